"""Visual semantic encoders (VisualEncoder plugins): what is on screen, frame by frame."""

from __future__ import annotations

from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN

__all__ = ["TinyVisualCNN"]
