"""Pretrained transformers text encoders: T5 (Kling-Foley's text encoder is T5-base) and CLIP text towers.

Each loads the model and its tokenizer from one directory written by ``save_pretrained``; a hub id works
only where a network exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import transformers
from torch import Tensor

from foleyzoo.api import TextEncoder, TextFeatures
from foleyzoo.encoders.pretrained import (
    FrozenMixin,
    architecture_error,
    freeze_module,
    load_config,
    load_pretrained,
    load_tokenizer,
    masked_mean,
    parse_dtype,
    resolve_model_dir,
)
from foleyzoo.errors import ConfigError

_T5_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel"}
_CLIP_TYPES = ("clip", "clip_text_model")


def _transformers_class(name: str, source: str) -> Any:
    try:
        return getattr(transformers, name)
    except AttributeError:
        raise ConfigError(
            f"{source}: needs transformers' {name}, which transformers {transformers.__version__} lacks"
        ) from None


def tokenize(
    tokenizer: Any, texts: Sequence[str], max_length: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Token ids (B, L) padded to the longest prompt (at most ``max_length``) and the (B, L) bool mask."""
    batch = tokenizer(
        list(texts), padding="longest", truncation=True, max_length=max_length, return_tensors="pt"
    )
    return batch["input_ids"].to(device), batch["attention_mask"].to(device).bool()


def _last_hidden(out: Any) -> tuple[Tensor, Tensor | None]:
    return out.last_hidden_state, None


def encode_texts(
    encoder: Any,
    texts: Sequence[str],
    outputs: Callable[[Any], tuple[Tensor, Tensor | None]] = _last_hidden,
) -> TextFeatures:
    """Prompts through ``encoder.model`` (no autograd when ``encoder.frozen``) → padding-zeroed tokens and pooled.

    ``outputs`` turns the model's output into the hidden states (B, L, D) and a pooled vector (B, D), or
    None for the masked mean of the tokens; it runs under the same autograd setting as the model.
    """
    device = next(encoder.model.parameters()).device
    ids, mask = tokenize(encoder.tokenizer, texts, encoder.max_length, device)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not encoder.frozen):
        hidden, pooled = outputs(encoder.model(input_ids=ids, attention_mask=mask.long()))
    tokens = hidden.float() * mask.unsqueeze(-1)
    pooled = masked_mean(tokens, mask) if pooled is None else pooled.float()
    return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)


class T5TextEncoder(FrozenMixin, TextEncoder):
    """Prompts → T5 encoder tokens (B, L, D), mask, and their masked mean as the pooled vector (B, D).

    ``model`` holds a T5, mT5 or UMT5 checkpoint (an encoder-decoder checkpoint works: the decoder is
    not loaded) and its tokenizer. Padding tokens are zeroed. T5 overflows in float16: use ``"bfloat16"``
    or float32. A frozen encoder runs without autograd.
    """

    api_version = "1.0"

    def __init__(
        self, model: str, max_length: int = 128, freeze: bool = True, dtype: str | None = None
    ) -> None:
        super().__init__()
        what = type(self).__name__
        source, local = resolve_model_dir(model, what)
        config = load_config(source, local, what)
        if config.model_type not in _T5_CLASSES:
            raise architecture_error(source, config, what, "a T5, mT5 or UMT5 model")
        cls = _transformers_class(_T5_CLASSES[config.model_type], source)
        self.model, _ = load_pretrained(cls, source, local, dtype=parse_dtype(dtype))
        self.tokenizer = load_tokenizer(source, local, what)
        self.max_length, self.frozen, self.source = max_length, freeze, source
        self._embed_dim = int(config.d_model)
        if freeze:
            freeze_module(self)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        return encode_texts(self, texts)


class CLIPTextEncoder(FrozenMixin, TextEncoder):
    """Prompts → CLIP text tokens (B, L, D), mask, and the model's pooled (end-of-text) vector (B, D).

    ``model`` holds a CLIP image-text model or a CLIP text tower, and its tokenizer. With ``projection``
    (where the checkpoint has a text projection) pooled is the projected ``text_embeds`` and the tokens
    go through the same projection, so both share one space; without it they are the final hidden
    states, as diffusion models condition on. ``max_length`` is capped at the model's position count.
    Padding tokens are zeroed. A frozen encoder runs without autograd.
    """

    api_version = "1.0"

    def __init__(
        self,
        model: str,
        max_length: int = 77,
        projection: bool = True,
        freeze: bool = True,
        dtype: str | None = None,
    ) -> None:
        super().__init__()
        what = type(self).__name__
        source, local = resolve_model_dir(model, what)
        config = load_config(source, local, what)
        if config.model_type not in _CLIP_TYPES:
            raise architecture_error(source, config, what, "a CLIP model or CLIP text model")
        text_config = getattr(config, "text_config", None) or config
        if text_config is not config and getattr(config, "projection_dim", None) is not None:
            # an image-text model's own projection size is the one its weights have
            text_config.projection_dim = config.projection_dim
        torch_dtype = parse_dtype(dtype)
        self.projected = projection
        if projection:
            self.model, missing = load_pretrained(
                _transformers_class("CLIPTextModelWithProjection", source),
                source,
                local,
                config=text_config,
                dtype=torch_dtype,
                allowed_missing=("text_projection.",),
            )
            self.projected = not missing  # without a stored projection, use the pooled hidden state
        if not self.projected:
            self.model, _ = load_pretrained(
                _transformers_class("CLIPTextModel", source),
                source,
                local,
                config=text_config,
                dtype=torch_dtype,
            )
        self.tokenizer = load_tokenizer(source, local, what)
        self.max_length = min(max_length, int(text_config.max_position_embeddings))
        self.frozen, self.source = freeze, source
        self._embed_dim = (
            int(self.model.text_projection.out_features) if self.projected else int(text_config.hidden_size)
        )
        if freeze:
            freeze_module(self)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        return encode_texts(self, texts, self._outputs)

    def _outputs(self, out: Any) -> tuple[Tensor, Tensor]:
        """The model's output → hidden states (projected with ``projection``) and the pooled vector."""
        if self.projected:
            return self.model.text_projection(out.last_hidden_state), out.text_embeds
        return out.last_hidden_state, out.pooler_output
