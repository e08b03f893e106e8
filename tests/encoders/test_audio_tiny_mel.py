"""TinyMelAudioEncoder: one feature a mel hop, channels mixed to mono, pooling onto another time grid."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.api import Waveform
from foleyzoo.encoders.audio import TinyMelAudioEncoder


def test_one_feature_a_hop_and_stereo_mixed_to_mono() -> None:
    torch.manual_seed(0)
    encoder = TinyMelAudioEncoder(embed_dim=12, width=16)
    mono = torch.randn(2, 1, 16000)
    features = encoder(Waveform(mono, 16000))
    assert encoder.frame_rate == 100.0 and features.shape == (2, 16000 // 160 + 1, 12)
    stereo = encoder(Waveform(mono.repeat(1, 2, 1), 16000))
    torch.testing.assert_close(stereo, features)  # two equal channels mix to the same mono sound
    with pytest.raises(ValueError, match="16000 Hz"):
        encoder(Waveform(mono, 22050))


def test_pool_to_averages_equal_stretches() -> None:
    features = torch.arange(8.0).reshape(1, 8, 1)
    assert TinyMelAudioEncoder.pool_to(features, 4).flatten().tolist() == [0.5, 2.5, 4.5, 6.5]
