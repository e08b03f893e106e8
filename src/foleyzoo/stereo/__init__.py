"""Stereo rendering: mono mel + where things are on screen → stereo mel (Kling-Foley's Mono2Stereo and baselines)."""

from foleyzoo.stereo.dual_mono import DualMono
from foleyzoo.stereo.encoders import PanVisualEncoder, PixelGrid
from foleyzoo.stereo.mono2stereo import Mono2Stereo
from foleyzoo.stereo.motion_panner import MotionPanner

__all__ = ["DualMono", "Mono2Stereo", "MotionPanner", "PanVisualEncoder", "PixelGrid"]
