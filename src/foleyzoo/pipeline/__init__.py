"""Inference: bundles of trained parts (``foleyzoo export``) and the FoleyPipeline that generates with them."""

from foleyzoo.pipeline.bundle import Bundle, ModelCard, export_bundle
from foleyzoo.pipeline.pipeline import FoleyPipeline, Generated, GenerationProgress, VideoFrames

__all__ = [
    "Bundle",
    "FoleyPipeline",
    "Generated",
    "GenerationProgress",
    "ModelCard",
    "VideoFrames",
    "export_bundle",
]
