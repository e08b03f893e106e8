"""open_clip text towers as text encoders: MMAudio's CLIP text tokens (DFN5B ViT-H/14's text transformer).

MMAudio conditions on every one of the 77 token positions after the text transformer's final layer norm,
L2-normalised, without the text projection: (B, 77, 1024). This encoder does the same for any open_clip
model with a CLIP text tower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foleyzoo.api import TextEncoder, TextFeatures
from foleyzoo.encoders.open_clip_loader import DFN5B_CLIP, load_open_clip, model_config, tokenizer_for
from foleyzoo.encoders.pretrained import FrozenMixin, freeze_module
from foleyzoo.errors import ConfigError

__all__ = ["OpenCLIPTextEncoder"]


class _TextTower(nn.Module):
    """The parts of an open_clip ``CLIP`` that turn token ids into per-token states (the image tower dropped)."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.register_buffer("attn_mask", clip.attn_mask, persistent=False)

    def forward(self, ids: Tensor) -> Tensor:
        """Token ids (B, L) → final-layer-norm states (B, L, D)."""
        dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(ids).to(dtype) + self.positional_embedding.to(dtype)
        return self.ln_final(self.transformer(x, attn_mask=self.attn_mask))


class OpenCLIPTextEncoder(FrozenMixin, TextEncoder):
    """Prompts → open_clip text-transformer states at every position (B, context, D), as MMAudio conditions.

    ``model`` and ``checkpoint`` are as for :class:`~foleyzoo.encoders.visual.open_clip.OpenCLIPVisualEncoder`
    (one folder serves both; each keeps its own tower). The tokenizer is open_clip's for that model
    (DFN5B: CLIP's BPE, 77 tokens). ``normalize`` L2-normalises each position; ``mask_padding=False`` (MMAudio's
    way) marks all positions real, padding included; True masks the positions after the end token. The
    pooled vector is the state at the end token. ``model_cfg`` builds the architecture alone, as for the
    visual encoder.
    """

    api_version = "1.0"
    requires: ClassVar[dict[str, str]] = {"open_clip": "open_clip_torch"}
    """The optional package it is built with (``foleyzoo plugins`` says how to install it when missing)."""

    def __init__(
        self,
        model: str = DFN5B_CLIP,
        checkpoint: str | None = None,
        download: bool = False,
        normalize: bool = True,
        mask_padding: bool = False,
        freeze: bool = True,
        model_cfg: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        clip, source = load_open_clip(model, checkpoint, download, model_cfg is None, model_cfg)
        self.model_cfg = model_config(source)
        if not hasattr(clip, "token_embedding"):
            raise ConfigError(f"{source.label}: has no CLIP text transformer (a custom text tower?)")
        self.tokenizer = tokenizer_for(source)
        self.source, self.frozen = source.label, freeze
        self.normalize, self.mask_padding = normalize, mask_padding
        self.model = _TextTower(clip)
        self._embed_dim = int(clip.token_embedding.embedding_dim)
        if freeze:
            freeze_module(self)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        device = self.model.token_embedding.weight.device
        ids = self.tokenizer(list(texts)).to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            states = self.model(ids).float()
        if self.normalize:
            states = F.normalize(states, dim=-1)
        end = ids.argmax(dim=-1)  # the end token has the largest id of CLIP's vocabulary
        positions = torch.arange(ids.shape[1], device=device)
        mask = positions <= end[:, None] if self.mask_padding else torch.ones_like(ids, dtype=torch.bool)
        pooled = states[torch.arange(ids.shape[0], device=device), end]
        return TextFeatures(tokens=states * mask.unsqueeze(-1), mask=mask, pooled=pooled)
