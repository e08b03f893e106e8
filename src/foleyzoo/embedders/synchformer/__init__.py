"""Synchformer for av-benchmark's DeSync: audio and visual features and the offset classifier, published layout."""

from __future__ import annotations

from foleyzoo.embedders.synchformer.head import offset_grid
from foleyzoo.embedders.synchformer.model import (
    SynchformerDeSync,
    SynchformerNetwork,
    desync_score,
    random_synchformer_state,
)
from foleyzoo.embedders.synchformer.video import preprocess_sync_frames

__all__ = [
    "SynchformerDeSync",
    "SynchformerNetwork",
    "desync_score",
    "offset_grid",
    "preprocess_sync_frames",
    "random_synchformer_state",
]
