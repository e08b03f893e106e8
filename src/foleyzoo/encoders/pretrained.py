"""Shared helpers of the pretrained encoders: finding weights on disk, loading them strictly, clear errors.

Every problem a user can fix (a missing directory, a checkpoint of another architecture, weights that
do not fit) is raised as :class:`~foleyzoo.errors.ConfigError` naming the path and the problem.
Frames are preprocessed on tensors, batched, the way each model's own processor would do it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer, PretrainedConfig

from foleyzoo.api import FrameFeatures, Video
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import exception_summary, state_dict_mismatch
from foleyzoo.io.checkpoints import read_weights as read_state_dict
from foleyzoo.io.frames import quantise, shape_uint8

__all__ = [
    "FramePreprocess",
    "FrozenMixin",
    "architecture_error",
    "as_floats",
    "encode_frames",
    "freeze_module",
    "hub_offline",
    "load_config",
    "load_image_processor",
    "load_pretrained",
    "load_state_dict_strict",
    "load_tokenizer",
    "masked_mean",
    "parse_dtype",
    "read_state_dict",
    "resolve_model_dir",
]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}
# transformers renamed from_pretrained's ``torch_dtype`` to ``dtype`` in 4.56
_TRANSFORMERS_VERSION = tuple(int(part) for part in re.findall(r"\d+", transformers.__version__)[:2])
_DTYPE_KWARG = "dtype" if _TRANSFORMERS_VERSION >= (4, 56) else "torch_dtype"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks for the local cache only."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def resolve_model_dir(model: str, what: str) -> tuple[str, bool]:
    """``(source, local_files_only)`` for ``from_pretrained``: an existing directory, else a hub id.

    A hub id only loads where a network exists (or from the cache when ``HF_HUB_OFFLINE`` is set). A
    string that cannot be a hub id (absolute, ``./``, ``~``, deeper than ``owner/name``) must be a directory.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True
    if path.exists():
        raise ConfigError(f"{model}: {what} needs a model directory, but this is a file")
    if not _HUB_ID.match(model):
        raise ConfigError(f"{model}: {what} model directory not found")
    return model, hub_offline()


def load_config(source: str, local: bool, what: str) -> PretrainedConfig:
    """The transformers config stored at ``source``; a ConfigError naming it when there is none."""
    directory = Path(source).is_dir()
    if directory and not (Path(source) / "config.json").is_file():
        raise ConfigError(
            f"{source}: no config.json in this directory; {what} needs a directory written by "
            "save_pretrained (config, weights, and the tokenizer or image processor)"
        )
    try:
        return AutoConfig.from_pretrained(source, local_files_only=local)
    except Exception as exc:
        if directory:
            raise ConfigError(
                f"{source}: not a readable transformers model directory ({exception_summary(exc)})"
            ) from exc
        offline = " (HF_HUB_OFFLINE is set, so only the local cache was searched)" if hub_offline() else ""
        raise ConfigError(
            f"{source}: no such local directory, and it could not be loaded as a Hugging Face hub id"
            f"{offline} ({exception_summary(exc)}); download the model where a network exists and pass its directory"
        ) from exc


def architecture_error(source: str, config: PretrainedConfig, what: str, wanted: str) -> ConfigError:
    """The error for a checkpoint of another architecture: names the directory and what it holds."""
    found = ", ".join(getattr(config, "architectures", None) or []) or "no architectures listed"
    return ConfigError(
        f"{source}: holds a {config.model_type!r} checkpoint ({found}), but {what} needs {wanted}"
    )


def parse_dtype(dtype: str | None) -> torch.dtype:
    """``"float32"``, ``"float16"``/``"fp16"``, ``"bfloat16"``/``"bf16"`` (None = float32) → a torch dtype."""
    if dtype is None:
        return torch.float32
    try:
        return _DTYPES[str(dtype).lower().removeprefix("torch.")]
    except KeyError:
        raise ConfigError(f"dtype {dtype!r} is not one of {', '.join(sorted(_DTYPES))}") from None


def load_pretrained(
    cls: Any,
    source: str,
    local: bool,
    *,
    config: PretrainedConfig | None = None,
    dtype: torch.dtype = torch.float32,
    allowed_missing: Sequence[str] = (),
) -> tuple[Any, list[str]]:
    """``cls.from_pretrained`` that refuses weights which do not fit: returns the model and missing keys.

    Keys starting with one of ``allowed_missing`` may be absent (the caller then does without that
    part); any other missing key, or a shape mismatch, is a ConfigError naming ``source``.
    """
    kwargs: dict[str, Any] = {"local_files_only": local, "output_loading_info": True, _DTYPE_KWARG: dtype}
    if config is not None:
        kwargs["config"] = config
    try:
        model, info = cls.from_pretrained(source, **kwargs)
    except Exception as exc:
        raise ConfigError(
            f"{source}: the weights do not load into {cls.__name__} ({exception_summary(exc)})"
        ) from exc
    missing = sorted(info.get("missing_keys") or [])
    unfit = [key for key in missing if not key.startswith(tuple(allowed_missing))]
    if unfit:
        more = " …" if len(unfit) > 6 else ""
        raise ConfigError(
            f"{source}: the weights do not fit {cls.__name__}: missing {', '.join(unfit[:6])}{more}"
        )
    return model, missing


_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "vocab.txt",
)


def load_tokenizer(source: str, local: bool, what: str) -> Any:
    """The tokenizer saved with the model at ``source``.

    A directory without tokenizer files is refused: transformers would otherwise build an empty
    default tokenizer that maps every word to the unknown token.
    """
    if Path(source).is_dir() and not any((Path(source) / name).is_file() for name in _TOKENIZER_FILES):
        raise ConfigError(
            f"{source}: no tokenizer files ({', '.join(_TOKENIZER_FILES)}) saved with the model; {what} "
            "needs the tokenizer in the same directory (tokenizer.save_pretrained)"
        )
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=local)
    except Exception as exc:
        raise ConfigError(
            f"{source}: no usable tokenizer saved with the model ({exception_summary(exc)}); {what} needs the "
            "tokenizer files (tokenizer.json or the vocabulary) in the same directory"
        ) from exc


def load_image_processor(source: str, local: bool, what: str) -> Any:
    """The image processor saved with the model at ``source`` (its preprocessor_config.json)."""
    try:
        return AutoImageProcessor.from_pretrained(source, local_files_only=local)
    except Exception as exc:
        raise ConfigError(
            f"{source}: no usable image processor saved with the model ({exception_summary(exc)}); {what} needs "
            "its preprocessor_config.json (resize, crop, mean, std) in the same directory"
        ) from exc


def load_state_dict_strict(
    module: nn.Module, state: Mapping[str, Tensor], path: str | Path, name: str
) -> None:
    """Load ``state`` into ``module`` exactly; a ConfigError naming ``path`` lists what does not fit."""
    problem = state_dict_mismatch(module.state_dict(), dict(state))
    if problem:
        raise ConfigError(f"{path}: the weights do not fit {name}: {problem}")
    module.load_state_dict(state, strict=True)


def freeze_module(module: nn.Module) -> nn.Module:
    """Eval mode and no gradients: a frozen encoder is a fixed feature extractor."""
    module.eval()
    module.requires_grad_(False)
    return module


class FrozenMixin:
    """Keeps a frozen encoder in eval mode when its parent is put in training mode (no dropout)."""

    frozen: bool = False

    def train(self, mode: bool = True) -> Any:
        return super().train(mode and not self.frozen)  # type: ignore[misc]


def encode_frames(
    encoder: Any, video: Video, forward: Callable[[Tensor], tuple[Tensor, Tensor | None]]
) -> FrameFeatures:
    """A video's frames, as one batch (B·T, 3, H, W), through ``forward`` → per-frame features at the video's fps.

    Frames go through ``encoder.preprocess`` on the device and in the dtype of ``encoder.model``;
    ``forward`` returns the embeddings (N, D) and the tokens (N, P, D) or None, and runs without
    autograd when ``encoder.frozen``.
    """
    batch = video.frames.shape[0]
    weight = next(encoder.model.parameters())
    frames = rearrange(video.frames, "b t c h w -> (b t) c h w").to(weight.device)
    pixels = encoder.preprocess(frames).to(weight.dtype)
    with torch.set_grad_enabled(torch.is_grad_enabled() and not encoder.frozen):
        pooled, tokens = forward(pixels)
    values = rearrange(pooled.float(), "(b t) d -> b t d", b=batch)
    if tokens is not None:
        tokens = rearrange(tokens.float(), "(b t) n d -> b t n d", b=batch)
    return FrameFeatures(values=values, fps=video.fps, mask=video.mask, tokens=tokens)


def masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean of tokens (B, L, D) over the positions where mask (B, L) is True → (B, D)."""
    keep = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * keep).sum(1) / keep.sum(1).clamp_min(1)


_INTERPOLATIONS = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}
# the rest fall back to the nearest mode torch's interpolate has
_INTERPOLATION_FALLBACKS = {
    "lanczos": "bicubic",
    "box": "bilinear",
    "hamming": "bilinear",
    "random": "bilinear",
}


@dataclass(frozen=True)
class FramePreprocess:
    """Resize, centre-crop and normalise frames on tensors, batched, as a model's own image processor would.

    ``resize`` is one of ``"none"``, ``"exact"`` (to ``size`` (h, w)), ``"shortest"`` (shortest edge to
    ``size[0]``, the other scaled and truncated like torchvision, capped at ``max_size``), ``"cover"``
    (keep the ratio, both edges ≥ ``size``) or ``"fit"`` (keep the ratio, both edges ≤ ``size``).
    ``crop`` (h, w) is a centre crop, padded with ``pad_value`` where the image is smaller;
    ``round_crop`` places it as torchvision does (rounded offset) instead of truncating it.
    """

    resize: str = "none"
    size: tuple[int, int] = (0, 0)
    max_size: int | None = None
    crop: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    interpolation: str = "bicubic"
    round_crop: bool = False
    pad_value: tuple[float, ...] | None = None
    uint8_resize: bool = False
    """Resize as torchvision does on 8-bit images (MMAudio's frames): quantise to uint8, resize, scale back."""

    def __post_init__(self) -> None:
        if self.resize not in ("none", "exact", "shortest", "cover", "fit"):
            raise ValueError(
                f"FramePreprocess.resize must be none/exact/shortest/cover/fit, got {self.resize!r}"
            )

    @property
    def mode(self) -> str:
        """The ``torch.nn.functional.interpolate`` mode used for ``interpolation``."""
        name = str(self.interpolation).lower()
        return _INTERPOLATIONS.get(name) or _INTERPOLATION_FALLBACKS.get(name, "bilinear")

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) after the resize step for an input of ``height`` × ``width``."""
        if self.resize == "exact":
            return self.size
        if self.resize == "shortest":
            short, long = sorted((height, width))
            new_short, new_long = self.size[0], int(self.size[0] * long / short)
            if self.max_size is not None and new_long > self.max_size:
                new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
            return (new_short, new_long) if height <= width else (new_long, new_short)
        if self.resize in ("cover", "fit"):
            ratios = (height / self.size[0], width / self.size[1])
            ratio = min(ratios) if self.resize == "cover" else max(ratios)
            return round(height / ratio), round(width / ratio)
        return height, width

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the model input for frames of ``height`` × ``width``."""
        return self.crop if self.crop is not None else self.resized_size(height, width)

    def __call__(self, frames: Tensor) -> Tensor:
        """Frames (N, 3, H, W) float in [0, 1] → model input (N, 3, h, w) float32."""
        x = frames.float()
        size = self.resized_size(*x.shape[-2:])
        if size != tuple(x.shape[-2:]) and self.uint8_resize:
            x = resize_as_uint8(x, size, self.mode)
        elif size != tuple(x.shape[-2:]):
            smooth = self.mode in ("bilinear", "bicubic")
            x = F.interpolate(
                x, size=size, mode=self.mode, align_corners=False if smooth else None, antialias=smooth
            )
        if self.crop is not None:
            x = self._center_crop(x, self.crop)
        if self.mean is not None and self.std is not None:
            mean = x.new_tensor(self.mean).view(1, -1, 1, 1)
            std = x.new_tensor(self.std).view(1, -1, 1, 1)
            x = (x - mean) / std
        return x

    def _center_crop(self, x: Tensor, crop: tuple[int, int]) -> Tensor:
        crop_h, crop_w = crop
        height, width = x.shape[-2:]
        if crop_h > height or crop_w > width:
            pad_w, pad_h = max(crop_w - width, 0), max(crop_h - height, 0)
            padding = (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2)
            if self.pad_value is None:
                x = F.pad(x, padding)
            else:
                fill = x.new_tensor(self.pad_value).view(1, -1, 1, 1)
                x = F.pad(x - fill, padding) + fill
            height, width = x.shape[-2:]
        if self.round_crop:
            top, left = round((height - crop_h) / 2.0), round((width - crop_w) / 2.0)
        else:
            top, left = int((height - crop_h) / 2.0), int((width - crop_w) / 2.0)
        return x[..., top : top + crop_h, left : left + crop_w]


def resize_as_uint8(frames: Tensor, size: tuple[int, int], mode: str = "bicubic") -> Tensor:
    """Frames (N, 3, H, W) in [0, 1] → (N, 3, *size) resized by torchvision on 8-bit values (antialiased), in [0, 1].

    Video decoders give 8-bit frames; MMAudio resizes them as such, and torchvision rounds each result to
    an integer, so a float resize differs by up to half a level. Frames in [0, 1] are quantised first.
    """
    return shape_uint8(quantise(frames), size, "squash", mode).float().div_(255.0)


def as_floats(values: Iterable[float] | float | None, channels: int = 3) -> tuple[float, ...] | None:
    """A mean/std value (one number or one a channel) → a tuple of ``channels`` floats."""
    if values is None:
        return None
    if isinstance(values, (int, float)):
        return (float(values),) * channels
    return tuple(float(value) for value in values)
