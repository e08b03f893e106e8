"""Pretrained transformers vision towers (CLIP, MetaCLIP, SigLIP) as visual semantic encoders.

MetaCLIP, the visual encoder of Kling-Foley, ships as CLIP checkpoints (MetaCLIP 2 as ``metaclip_2``).
Frames are preprocessed with the model's own image processor settings, on tensors and batched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from torch import Tensor

from foleyzoo.api import FrameFeatures, Video, VisualEncoder
from foleyzoo.encoders.pretrained import (
    FramePreprocess,
    FrozenMixin,
    architecture_error,
    as_floats,
    encode_frames,
    freeze_module,
    load_config,
    load_image_processor,
    load_pretrained,
    parse_dtype,
    resolve_model_dir,
)
from foleyzoo.errors import ConfigError

# PIL resampling codes, as image processors store them
_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


@dataclass(frozen=True)
class _Family:
    """How one family of vision towers is loaded and read out."""

    name: str
    base: str  # transformers class without projection
    projected: str | None  # transformers class with the image projection, if the family has one
    cls_token: bool  # last_hidden_state starts with a class token
    normed_tokens: bool  # last_hidden_state already went through the final layer norm


_CLIP = _Family(
    "CLIP", "CLIPVisionModel", "CLIPVisionModelWithProjection", cls_token=True, normed_tokens=False
)
_METACLIP2 = _Family(
    "MetaCLIP 2",
    "MetaClip2VisionModel",
    "MetaClip2VisionModelWithProjection",
    cls_token=True,
    normed_tokens=False,
)
_SIGLIP = _Family("SigLIP", "SiglipVisionModel", None, cls_token=False, normed_tokens=True)
_FAMILIES = {
    "clip": _CLIP,
    "clip_vision_model": _CLIP,
    "metaclip_2": _METACLIP2,
    "metaclip_2_vision_model": _METACLIP2,
    "siglip": _SIGLIP,
    "siglip_vision_model": _SIGLIP,
}


def _field(size: Any, key: str) -> Any:
    """One entry of an image processor's size: a dict in older transformers, a SizeDict in newer."""
    if size is None:
        return None
    if isinstance(size, Mapping):
        return size.get(key)
    return getattr(size, key, None)


def _interpolation(resample: Any) -> str:
    """An image processor's ``resample`` (PIL code or torchvision mode) → an interpolation name."""
    if resample is None:
        return "bilinear"
    value = getattr(resample, "value", resample)
    if isinstance(value, str):
        return value.lower()
    return _RESAMPLE.get(int(value), "bicubic")


def processor_preprocess(processor: Any, source: str) -> FramePreprocess:
    """A transformers image processor's resize, centre crop, rescale and normalisation as a :class:`FramePreprocess`.

    Frames are already in [0, 1]; a ``rescale_factor`` other than 1/255 is folded into mean and std.
    """
    size = getattr(processor, "size", None)
    resize, target, max_size = "none", (0, 0), None
    if getattr(processor, "do_resize", True) and size is not None:
        height, width = _field(size, "height"), _field(size, "width")
        shortest = _field(size, "shortest_edge")
        if isinstance(size, int):
            square = getattr(processor, "default_to_square", True)
            resize, target = ("exact" if square else "shortest"), (size, size)
        elif height and width:
            resize, target = "exact", (int(height), int(width))
        elif shortest:
            resize, target, max_size = (
                "shortest",
                (int(shortest), int(shortest)),
                _field(size, "longest_edge"),
            )
        else:
            raise ConfigError(
                f"{source}: the image processor's size {size!r} has neither height/width nor shortest_edge"
            )
    crop = None
    crop_size = getattr(processor, "crop_size", None)
    if getattr(processor, "do_center_crop", False) and crop_size is not None:
        if isinstance(crop_size, int):
            crop = (crop_size, crop_size)
        elif _field(crop_size, "height") and _field(crop_size, "width"):
            crop = (int(_field(crop_size, "height")), int(_field(crop_size, "width")))
        else:
            raise ConfigError(f"{source}: the image processor's crop_size {crop_size!r} has no height/width")
    scale = (
        255.0 * float(getattr(processor, "rescale_factor", 1 / 255))
        if getattr(processor, "do_rescale", True)
        else 1.0
    )
    mean = std = None
    if getattr(processor, "do_normalize", False):
        mean, std = as_floats(processor.image_mean), as_floats(processor.image_std)
    if abs(scale - 1.0) > 1e-6:  # (x · s − m) / d = (x − m / s) / (d / s)
        mean = tuple(m / scale for m in mean) if mean else (0.0, 0.0, 0.0)
        std = tuple(d / scale for d in std) if std else (1 / scale,) * 3
    return FramePreprocess(
        resize=resize,
        size=target,
        max_size=int(max_size) if max_size else None,
        crop=crop,
        mean=mean,
        std=std,
        interpolation=_interpolation(getattr(processor, "resample", None)),
    )


class HFVisionEncoder(FrozenMixin, VisualEncoder):
    """Frames → per-frame image embeddings (B, T, D) from a transformers CLIP, MetaCLIP or SigLIP vision tower.

    ``model`` is a directory written by ``save_pretrained`` holding the model (the full image-text model
    or the vision tower alone) and its image processor; a hub id works only where a network exists.
    With ``projection`` the CLIP-style projected image embedding is used where the checkpoint has one.
    ``patch_tokens`` also returns the patch tokens (B, T, N, D), through the same final norm and
    projection as the embedding, so they share its space. A frozen encoder runs without autograd.
    """

    api_version = "1.0"

    def __init__(
        self,
        model: str,
        fps: float = 8.0,
        patch_tokens: bool = False,
        projection: bool = True,
        freeze: bool = True,
        dtype: str | None = None,
    ) -> None:
        super().__init__()
        what = type(self).__name__
        source, local = resolve_model_dir(model, what)
        config = load_config(source, local, what)
        family = _FAMILIES.get(config.model_type)
        if family is None:
            raise architecture_error(source, config, what, "a CLIP, MetaCLIP or SigLIP vision model")
        vision_config = getattr(config, "vision_config", None) or config
        if vision_config is not config and getattr(config, "projection_dim", None) is not None:
            # an image-text model's own projection size is the one its weights have
            vision_config.projection_dim = config.projection_dim
        self._fps, self.patch_tokens, self.frozen = float(fps), patch_tokens, freeze
        self._family, self.source = family, source
        self.projected = projection and family.projected is not None
        self.model = self._load(family, source, local, vision_config, parse_dtype(dtype))
        self.preprocess = processor_preprocess(load_image_processor(source, local, what), source)
        self._embed_dim = (
            int(self.model.visual_projection.out_features)
            if self.projected
            else int(vision_config.hidden_size)
        )
        if freeze:
            freeze_module(self)

    def _load(self, family: _Family, source: str, local: bool, vision_config: Any, dtype: torch.dtype) -> Any:
        """The vision tower, with its projection where asked for and stored (``self.projected`` says which)."""

        def transformers_class(name: str) -> Any:
            try:
                return getattr(transformers, name)
            except AttributeError:
                raise ConfigError(
                    f"{source}: {family.name} needs transformers' {name}, which transformers "
                    f"{transformers.__version__} lacks; upgrade transformers"
                ) from None

        if self.projected:
            assert family.projected is not None
            net, missing = load_pretrained(
                transformers_class(family.projected),
                source,
                local,
                config=vision_config,
                dtype=dtype,
                allowed_missing=("visual_projection.",),
            )
            if not missing:
                return net
            self.projected = False  # the checkpoint has no image projection: use the pooled embedding
        net, _ = load_pretrained(
            transformers_class(family.base), source, local, config=vision_config, dtype=dtype
        )
        return net

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        return encode_frames(self, video, self._forward)

    def _forward(self, pixels: Tensor) -> tuple[Tensor, Tensor | None]:
        """Model input (N, 3, h, w) → embeddings (N, D) and, with ``patch_tokens``, tokens (N, P, D)."""
        out = self.model(pixel_values=pixels)
        hidden = out.last_hidden_state
        if self.projected:
            pooled = out.image_embeds
        else:
            pooled = out.pooler_output if out.pooler_output is not None else hidden.mean(1)
        if not self.patch_tokens:
            return pooled, None
        tokens = hidden[:, 1:] if self._family.cls_token else hidden
        if not self._family.normed_tokens:
            tokens = getattr(self.model, "vision_model", self.model).post_layernorm(tokens)
        if self.projected:
            tokens = self.model.visual_projection(tokens)
        return pooled, tokens
