"""ImageBind-huge's image/video and audio towers, with the parameter names of ``imagebind_huge.pth``.

Written from the ImageBind paper (Girdhar et al., 2023, arXiv 2305.05665) and the released file's key and
shape layout: a ViT-H/14 over 2-frame tubelets for images and video, a ViT-B over 16×16 patches (stride 10)
of a 128-band log-mel spectrogram for audio, each with a class token, a LayerNorm + linear head to the
shared 1024-d space and L2 normalisation; audio's embedding is scaled by a fixed logit scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["AUDIO_TOWER", "VISION_TOWER", "ImageBindTowers", "TowerShape"]

EMBED_DIM = 1024
"""The joint embedding space of every modality."""

LOGIT_SCALE_MAX = 100.0
"""Upper bound of the stored audio logit scale exp(log_logit_scale)."""


@dataclass(frozen=True)
class TowerShape:
    """Width, depth and heads of one transformer tower; ``kv_bias`` adds learnt key/value tokens to attention."""

    width: int
    depth: int
    heads: int
    kv_bias: bool


VISION_TOWER = TowerShape(width=1280, depth=32, heads=16, kv_bias=False)
AUDIO_TOWER = TowerShape(width=768, depth=12, heads=12, kv_bias=True)


class _Mlp(nn.Module):
    """The block's feed-forward part: width → 4·width → width with an exact GELU."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    """A pre-norm transformer block (LayerNorm eps 1e-6) with torch's multi-head attention."""

    def __init__(self, shape: TowerShape) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(
            shape.width, shape.heads, bias=True, add_bias_kv=shape.kv_bias, batch_first=True
        )
        self.norm_1 = nn.LayerNorm(shape.width, eps=1e-6)
        self.mlp = _Mlp(shape.width)
        self.norm_2 = nn.LayerNorm(shape.width, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm_2(x))


class _Trunk(nn.Module):
    """The transformer of one modality: an optional input LayerNorm (vision's), then the blocks."""

    def __init__(self, shape: TowerShape, input_norm: bool) -> None:
        super().__init__()
        first = nn.LayerNorm(shape.width, eps=1e-6) if input_norm else nn.Identity()
        self.pre_transformer_layer = nn.Sequential(first)
        self.blocks = nn.Sequential(*(_Block(shape) for _ in range(shape.depth)))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.blocks(self.pre_transformer_layer(tokens))


class _PatchStem(nn.Module):
    """Holds the patch projection (``proj``) and, for audio, the LayerNorm applied to its tokens (``norm_layer``)."""

    def __init__(self, proj: nn.Module, width: int | None) -> None:
        super().__init__()
        self.proj = proj
        if width is not None:
            self.norm_layer = nn.LayerNorm(width)  # eps 1e-5

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # (N, patches, width), time-major then row-major
        return self.norm_layer(tokens) if hasattr(self, "norm_layer") else tokens


class _PositionTable(nn.Module):
    """The learnt position embedding of the class token and every patch."""

    def __init__(self, tokens: int, width: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, width))


class _Tokenizer(nn.Module):
    """Patches → tokens with a class token prepended and positions added (``modality_preprocessors.<m>``)."""

    def __init__(self, stem: _PatchStem, patches: int, width: int) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.rgbt_stem = stem
        self.pos_embedding_helper = _PositionTable(patches + 1, width)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.rgbt_stem(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embedding_helper.pos_embed


class _FirstToken(nn.Module):
    """Keeps the class token (index 0) of (N, L, D) tokens."""

    def forward(self, tokens: Tensor) -> Tensor:
        return tokens[:, 0]


def _head(width: int) -> nn.Sequential:
    """LayerNorm (eps 1e-6) of the class token, then a bias-free projection to the joint space."""
    return nn.Sequential(
        nn.LayerNorm(width, eps=1e-6), _FirstToken(), nn.Linear(width, EMBED_DIM, bias=False)
    )


class _LogitScale(nn.Module):
    """Audio's fixed output scale: the embedding times exp(log_logit_scale), at most 100 (20 when released)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_logit_scale = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.log_logit_scale.exp().clamp(max=LOGIT_SCALE_MAX)


class _AudioPost(nn.Sequential):
    """L2 normalisation then the logit scale; index 1 holds the scale, as in the released file."""

    def __init__(self) -> None:
        super().__init__(nn.Identity(), _LogitScale())

    def forward(self, x: Tensor) -> Tensor:
        return self[1](F.normalize(x, dim=-1))


class ImageBindTowers(nn.Module):
    """The vision and/or audio parts of ImageBind-huge; state-dict keys equal the released file's for them.

    :meth:`vision` takes 2-frame clips (N, 3, 2, 224, 224) normalised with CLIP's mean/std; :meth:`audio`
    takes normalised log-mel clips (N, 1, 128, 204). Both return one 1024-d embedding a clip (N, 1024):
    unit length for vision, length exp(log_logit_scale) for audio.
    """

    def __init__(self, parts: Iterable[str] = ("vision", "audio")) -> None:
        super().__init__()
        parts = tuple(parts)
        unknown = sorted(set(parts) - {"vision", "audio"})
        if unknown or not parts:
            raise ValueError(f"ImageBindTowers builds 'vision' and/or 'audio', got {parts}")
        tokenizers: dict[str, nn.Module] = {}
        trunks: dict[str, nn.Module] = {}
        heads: dict[str, nn.Module] = {}
        if "vision" in parts:
            stem = _PatchStem(
                nn.Sequential(
                    nn.Identity(),  # clips already hold two frames: no repetition of a still image needed
                    nn.Conv3d(3, VISION_TOWER.width, kernel_size=(2, 14, 14), stride=(2, 14, 14), bias=False),
                ),
                None,
            )
            tokenizers["vision"] = _Tokenizer(stem, 16 * 16, VISION_TOWER.width)
            trunks["vision"] = _Trunk(VISION_TOWER, input_norm=True)
            heads["vision"] = _head(VISION_TOWER.width)
        if "audio" in parts:
            stem = _PatchStem(
                nn.Conv2d(1, AUDIO_TOWER.width, kernel_size=16, stride=10, bias=False), AUDIO_TOWER.width
            )
            tokenizers["audio"] = _Tokenizer(stem, 12 * 19, AUDIO_TOWER.width)
            trunks["audio"] = _Trunk(AUDIO_TOWER, input_norm=False)
            heads["audio"] = _head(AUDIO_TOWER.width)
        self.modality_preprocessors = nn.ModuleDict(tokenizers)
        self.modality_trunks = nn.ModuleDict(trunks)
        self.modality_heads = nn.ModuleDict(heads)
        self.modality_postprocessors = nn.ModuleDict({"audio": _AudioPost()} if "audio" in parts else {})

    def _tower(self, name: str, x: Tensor) -> Tensor:
        tokens = self.modality_preprocessors[name](x)
        return self.modality_heads[name](self.modality_trunks[name](tokens))

    def vision(self, clips: Tensor) -> Tensor:
        """(N, 3, 2, 224, 224) → (N, 1024) unit vectors."""
        if clips.dim() != 5 or tuple(clips.shape[1:3]) != (3, 2):
            raise ValueError(
                f"ImageBind's vision tower takes (N, 3, 2, H, W) clips, got {tuple(clips.shape)}"
            )
        return F.normalize(self._tower("vision", clips), dim=-1)

    def audio(self, mels: Tensor) -> Tensor:
        """(N, 1, 128, 204) → (N, 1024), scaled unit vectors."""
        if mels.dim() != 4 or tuple(mels.shape[1:]) != (1, 128, 204):
            raise ValueError(
                f"ImageBind's audio tower takes (N, 1, 128, 204) log-mels, got {tuple(mels.shape)}"
            )
        return self.modality_postprocessors["audio"](self._tower("audio", mels))
