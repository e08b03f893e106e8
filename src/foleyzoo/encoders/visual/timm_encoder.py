"""Any timm image model as a visual semantic encoder, its weights read from a local state dict file.

The model is built with ``timm.create_model(pretrained=False, num_classes=0)`` (nothing is downloaded),
and frames are preprocessed with timm's own data config (input size, crop, interpolation, mean, std)
on tensors, batched.
"""

from __future__ import annotations

import math
from typing import Any

import timm
from einops import rearrange
from timm.data import resolve_model_data_config
from torch import Tensor, nn

from foleyzoo.api import FrameFeatures, Video, VisualEncoder
from foleyzoo.encoders.pretrained import (
    FramePreprocess,
    FrozenMixin,
    as_floats,
    encode_frames,
    freeze_module,
    load_state_dict_strict,
    read_state_dict,
)
from foleyzoo.errors import ConfigError


def timm_preprocess(model: nn.Module) -> FramePreprocess:
    """timm's evaluation transform for ``model`` (resolve_model_data_config) as a :class:`FramePreprocess`.

    A model built for another input size than its pretrained config (``img_size=`` for a ViT) takes
    the size its patch embedding was built for.
    """
    config = resolve_model_data_config(model)
    size = tuple(int(edge) for edge in config["input_size"][1:])
    fixed = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if fixed is not None and not getattr(model, "dynamic_img_size", False):
        size = tuple(int(edge) for edge in fixed)
    crop_pct = float(config.get("crop_pct") or 0.875)
    crop_mode = config.get("crop_mode") or "center"
    scale = (math.floor(size[0] / crop_pct), math.floor(size[1] / crop_pct))
    mean, std = as_floats(config["mean"]), as_floats(config["std"])
    if crop_mode == "squash":
        resize = "exact"
    elif crop_mode == "border":
        resize = "fit"
    else:
        resize = "shortest" if scale[0] == scale[1] else "cover"
    return FramePreprocess(
        resize=resize,
        size=scale,
        crop=(size[0], size[1]),
        mean=mean,
        std=std,
        interpolation=str(config.get("interpolation") or "bilinear"),
        round_crop=True,
        pad_value=mean if crop_mode == "border" else None,
    )


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    """Prefixes of the classifier parameters a pretrained file holds but a ``num_classes=0`` model lacks."""
    names = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or ()
    names = (names,) if isinstance(names, str) else tuple(names)
    return tuple(f"{name}." for name in names)


class TimmVisualEncoder(FrozenMixin, VisualEncoder):
    """Frames → per-frame embeddings (B, T, D) from any timm model's pooled features (its head removed).

    ``model_name`` is a timm architecture, optionally with a pretrained tag (``vit_base_patch16_clip_224.openai``)
    that selects the preprocessing of those weights; ``checkpoint`` is a local ``.safetensors`` or torch
    state dict file (read with ``weights_only=True``), loaded strictly after the classifier's weights are
    dropped; without it the weights are random. ``patch_tokens`` also returns the tokens of
    ``forward_features`` (B, T, N, D): a ViT's patch tokens without prefix tokens, or a CNN's flattened
    feature map. ``model_kwargs`` go to ``timm.create_model``. A frozen encoder runs without autograd.
    """

    api_version = "1.0"

    def __init__(
        self,
        model_name: str,
        checkpoint: str | None = None,
        fps: float = 8.0,
        patch_tokens: bool = False,
        freeze: bool = True,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        try:
            self.model = timm.create_model(
                model_name, pretrained=False, num_classes=0, **(model_kwargs or {})
            )
        except Exception as exc:
            raise ConfigError(
                f"{model_name}: timm cannot build this model ({type(exc).__name__}: {exc})"
            ) from exc
        if checkpoint is not None:
            state = read_state_dict(checkpoint, type(self).__name__)
            expected = self.model.state_dict()
            drop = _classifier_prefixes(self.model)
            state = {k: v for k, v in state.items() if k in expected or not k.startswith(drop)}
            load_state_dict_strict(self.model, state, checkpoint, f"timm model {model_name}")
        self._fps, self.patch_tokens, self.frozen = float(fps), patch_tokens, freeze
        self.model_name, self.checkpoint = model_name, checkpoint
        self.preprocess = timm_preprocess(self.model)
        token_dim = int(self.model.num_features)
        self._embed_dim = int(getattr(self.model, "head_hidden_size", None) or token_dim)
        if patch_tokens and token_dim != self._embed_dim:
            raise ConfigError(
                f"{model_name}: its feature map has {token_dim} channels but its pooled embedding "
                f"{self._embed_dim}; patch tokens need both the same size, so use patch_tokens=False"
            )
        if freeze:
            freeze_module(self)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        return encode_frames(self, video, self._forward)

    def _forward(self, pixels: Tensor) -> tuple[Tensor, Tensor | None]:
        """Model input (N, 3, h, w) → pooled features (N, D) and, with ``patch_tokens``, tokens (N, P, D)."""
        features = self.model.forward_features(pixels)
        pooled = self.model.forward_head(features)
        return pooled, self._tokens(features) if self.patch_tokens else None

    def _tokens(self, features: Tensor) -> Tensor:
        """``forward_features`` output → tokens (N, P, D): prefix tokens dropped, feature maps flattened."""
        if features.dim() == 3:
            return features[:, int(getattr(self.model, "num_prefix_tokens", 0)) :]
        if features.dim() == 4:
            if getattr(self.model, "output_fmt", "NCHW") == "NHWC":
                return features.flatten(1, 2)
            return rearrange(features, "n d h w -> n (h w) d")
        raise ConfigError(
            f"{self.model_name}: forward_features gives shape {tuple(features.shape)}, neither tokens "
            "(N, L, D) nor a feature map (N, D, H, W); use patch_tokens=False"
        )
