"""The evaluation metrics of video-to-audio generation as torchmetrics metrics, after av-benchmark's conventions."""

from __future__ import annotations

from foleyzoo.metrics.classifier import InceptionScore, KLDivergence
from foleyzoo.metrics.desync import DeSync
from foleyzoo.metrics.frechet import FrechetAudioVisualDistance, FrechetDistance
from foleyzoo.metrics.similarity import AVAlignment, TextAudioScore
from foleyzoo.synthfoley.evaluation import SynthFoleyScores

__all__ = [
    "AVAlignment",
    "DeSync",
    "FrechetAudioVisualDistance",
    "FrechetDistance",
    "InceptionScore",
    "KLDivergence",
    "SynthFoleyScores",
    "TextAudioScore",
]
