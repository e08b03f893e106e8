"""DualMono: the do-nothing baseline renderer, the mono mel copied to both channels (every source centred)."""

from __future__ import annotations

from foleyzoo.api import FrameFeatures, Mel, StereoRenderer
from foleyzoo.renderers.checks import check_mono

__all__ = ["DualMono"]


class DualMono(StereoRenderer):
    """Mono mel (B, 1, n_mels, T) → the same mel on left and right (B, 2, n_mels, T); ignores the video."""

    api_version = "1.0"
    visual_encoder = None
    """No visual input is used."""
    mel_log = None
    """Copies the mel whatever its logarithm: follows any codec."""

    def render(self, mono: Mel, visual: FrameFeatures | None = None) -> Mel:
        check_mono(mono)
        return Mel(mono.values.repeat(1, 2, 1, 1), mono.sample_rate, mono.frame_rate)
