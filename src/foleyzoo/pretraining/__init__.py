"""Pre-training of the encoders and scorers the video-to-audio model and its metrics rely on."""

from __future__ import annotations

from foleyzoo.pretraining.contrastive import AVContrastive, evaluate_retrieval
from foleyzoo.pretraining.sync import SyncPretraining

__all__ = ["AVContrastive", "SyncPretraining", "evaluate_retrieval"]
