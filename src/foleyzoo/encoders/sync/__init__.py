"""Audio-visual synchronisation encoders (SyncEncoder plugins): when things happen."""

from __future__ import annotations

from foleyzoo.encoders.sync.motionformer import MotionFormerSyncEncoder
from foleyzoo.encoders.sync.synchformer import Synchformer
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN

__all__ = ["MotionFormerSyncEncoder", "Synchformer", "TinySync3DCNN"]
