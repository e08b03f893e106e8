"""ImageBind-huge (vision and audio towers) for av-benchmark's IB-score, written in foleyzoo."""

from __future__ import annotations

from .embedders import ImageBindAudio, ImageBindVideo
from .network import ImageBindTowers
from .weights import official_shapes, parity_state

__all__ = ["ImageBindAudio", "ImageBindTowers", "ImageBindVideo", "official_shapes", "parity_state"]
