"""Audio encoders of the pre-training modules (sync and contrastive): sound → features on a time axis."""

from __future__ import annotations

from foleyzoo.encoders.audio.tiny_mel import TinyMelAudioEncoder

__all__ = ["TinyMelAudioEncoder"]
