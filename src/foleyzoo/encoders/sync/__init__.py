"""Audio-visual synchronisation encoders (SyncEncoder plugins): when things happen."""

from __future__ import annotations

from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN

__all__ = ["TinySync3DCNN"]
