"""How decoded frames are chosen and shaped: the sampling instants of a frame rate, and 8-bit resizing.

Two conventions exist among video-to-audio models. foleyzoo's default shows at each instant the latest
frame at or before it and resizes while converting (bilinear). MMAudio (and the Synchformer features
av-benchmark computes) take the first frame at or after each instant, with instants accumulated by
repeated addition of 1 / fps, and resize the 8-bit frames with torchvision's antialiased bicubic filter.
A model trained on one sees the other as slightly shifted, slightly blurred video: the reader offers both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

__all__ = [
    "COUNT_MODES",
    "FIT_MODES",
    "PICK_MODES",
    "RESIZE_MODES",
    "Fit",
    "Pick",
    "Resize",
    "accumulated_instants",
    "shape_uint8",
]

Pick = Literal["latest", "next"]
Resize = Literal["bilinear", "bicubic"]
Fit = Literal["squash", "crop"]
PICK_MODES: tuple[str, ...] = ("latest", "next")
RESIZE_MODES: tuple[str, ...] = ("bilinear", "bicubic")
FIT_MODES: tuple[str, ...] = ("squash", "crop")
COUNT_MODES: tuple[str, ...] = ("round", "floor")


@dataclass(frozen=True)
class FrameReading:
    """How a model's frames are read: which frame an instant shows, and how it is resized to the model's size."""

    pick: str = "latest"
    resize: str = "bilinear"
    fit: str = "squash"
    count: str = "round"
    """Frames for a span of s seconds at f fps: ``"round"``, round(s·f) of the latent-aligned span;
    ``"floor"``, int(s·f) of the video's own seconds in it (MMAudio's ``int(duration * fps)``)."""

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("pick", self.pick, PICK_MODES),
            ("resize", self.resize, RESIZE_MODES),
            ("fit", self.fit, FIT_MODES),
            ("count", self.count, COUNT_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.fit == "crop" and self.resize != "bicubic":
            raise ValueError("fit='crop' (shorter side, then a centre crop) is done with resize='bicubic'")

    @classmethod
    def of(cls, data_format: dict[str, Any], stream: str) -> FrameReading:
        """The reading a bundle's ``data_format`` records for ``stream`` (``"visual"`` or ``"sync"``).

        Keys: ``frame_pick``, ``frame_resize`` and ``frame_count`` (both streams), ``visual_fit`` /
        ``sync_fit``; absent keys keep foleyzoo's defaults, so bundles written before these keys read as
        they always did.
        """
        return cls(
            pick=str(data_format.get("frame_pick") or "latest"),
            resize=str(data_format.get("frame_resize") or "bilinear"),
            fit=str(data_format.get(f"{stream}_fit") or "squash"),
            count=str(data_format.get("frame_count") or "round"),
        )

    def frames(self, fps: float, span: float, seconds: float) -> int:
        """How many frames at ``fps`` a window needs: ``span`` is its latent-aligned length in seconds,
        ``seconds`` the video's own seconds in it (shorter in the last window)."""
        if self.count == "floor":
            return max(1, int(seconds * fps))
        return max(1, round(span * fps))


def accumulated_instants(start: float, fps: float, count: int) -> list[float]:
    """``start`` + the running sum of ``1 / fps``, added one step at a time in float64, as MMAudio's reader does.

    The sum drifts by an ulp or two from ``k / fps`` (at 25 fps the 6th instant is 0.24000000000000002): a
    frame stamped exactly at 0.24 s then counts as before the instant, and the next frame is taken.
    """
    step, elapsed, instants = 1.0 / fps, 0.0, []
    for _ in range(count):
        instants.append(start + elapsed)
        elapsed += step
    return instants


def shape_uint8(levels: Tensor, size: tuple[int, int], fit: str = "squash", mode: str = "bicubic") -> Tensor:
    """8-bit frames (..., 3, H, W) → (..., 3, *size), resized by torchvision on 8-bit values (antialiased).

    ``fit="squash"`` resizes to ``size`` ignoring the aspect ratio; ``"crop"`` resizes the shorter side to
    ``min(size)`` (torchvision's ``Resize(int)``) and centre-crops ``size``, as Synchformer's input is made.
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    interpolation = InterpolationMode(mode if mode in ("bilinear", "bicubic") else "nearest")
    if fit == "squash":
        return TF.resize(levels, list(size), interpolation=interpolation, antialias=True)
    resized = TF.resize(levels, min(size), interpolation=interpolation, antialias=True)
    return TF.center_crop(resized, list(size))


def quantise(frames: Tensor) -> Tensor:
    """Frames in [0, 1] → the 8-bit levels a decoder would have given (rounded)."""
    return frames.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
