"""Stereo rendering: mono mel + where things are on screen → stereo mel (Kling-Foley's Mono2Stereo and baselines)."""

from foleyzoo.encoders.visual.pan_grid import PanVisualEncoder, PixelGrid
from foleyzoo.renderers.dual_mono import DualMono
from foleyzoo.renderers.mono2stereo import Mono2Stereo
from foleyzoo.renderers.motion_panner import MotionPanner

__all__ = ["DualMono", "Mono2Stereo", "MotionPanner", "PanVisualEncoder", "PixelGrid"]
