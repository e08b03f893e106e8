"""Evaluation networks (:class:`foleyzoo.api.Embedder` plugins) that turn clips into embeddings for the metrics."""

from __future__ import annotations

from foleyzoo.embedders.clap import CLAPAudio, CLAPText
from foleyzoo.embedders.own import AVContrastiveAudio, AVContrastiveVideo, SyncOffsetModel
from foleyzoo.embedders.panns import PANNsCNN14
from foleyzoo.embedders.vggish import VGGish

__all__ = [
    "AVContrastiveAudio",
    "AVContrastiveVideo",
    "CLAPAudio",
    "CLAPText",
    "PANNsCNN14",
    "SyncOffsetModel",
    "VGGish",
]
