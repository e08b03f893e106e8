"""Audio-visual synchronisation encoders (SyncEncoder plugins): when things happen."""

from __future__ import annotations

from foleyzoo.encoders.sync.synchformer import SynchformerEncoder
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN

__all__ = ["SynchformerEncoder", "TinySync3DCNN"]
