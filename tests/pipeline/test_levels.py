"""The output limiter: no sample beyond its ceiling, quiet audio untouched, gain changes without clicks."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from foleyzoo.pipeline.levels import CEILING, RAMP_SECONDS, limit_peaks

RATE = 16_000


def tone(seconds: float, amplitude: float, channels: int = 2) -> torch.Tensor:
    t = torch.arange(round(seconds * RATE)) / RATE
    return (amplitude * torch.sin(2 * math.pi * 440 * t)).repeat(channels, 1)


def test_audio_below_the_ceiling_is_returned_bit_for_bit() -> None:
    quiet = tone(1.0, 0.5)
    assert limit_peaks(quiet, RATE) is quiet


def test_a_burst_is_brought_to_the_ceiling_and_the_rest_keeps_its_level() -> None:
    audio = tone(2.0, 0.3)
    audio[:, -1600:] *= 20  # the last 0.1 s at 6.0 peak, as a diverging end of clip would be
    limited = limit_peaks(audio, RATE)
    assert limited.abs().max() <= CEILING
    assert limited.abs().max() > 0.95 * CEILING  # limited, not silenced
    ramp = round(2 * RAMP_SECONDS * RATE)
    untouched = slice(0, audio.shape[1] - 1600 - ramp)
    assert torch.equal(limited[:, untouched], audio[:, untouched])


def test_channels_share_one_gain_so_the_stereo_image_stays() -> None:
    audio = torch.stack([tone(1.0, 4.0, 1)[0], tone(1.0, 1.0, 1)[0]])
    limited = limit_peaks(audio, RATE)
    ratio = limited[0].abs().sum() / limited[1].abs().sum()
    assert abs(float(ratio) - 4.0) < 1e-3


def test_the_gain_changes_gradually() -> None:
    audio = tone(1.0, 0.2)
    audio[:, 8000] = 5.0  # one spike
    gain = limit_peaks(audio, RATE)[0] / audio[0]
    steady = audio[0].abs() > 0.05  # where the ratio is well defined
    jumps = gain[steady].diff().abs().max()
    assert jumps < 0.1  # a step from 1 to 0.18 would be a click; the ramp spreads it over 5 ms


@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(0.5, 1e4),
    length=st.integers(1, 4000),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_no_sample_ever_passes_the_ceiling(peak: float, length: int, channels: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    audio = torch.randn(channels, length, generator=generator)
    audio = audio / audio.abs().max() * peak
    assert limit_peaks(audio, RATE).abs().max() <= CEILING
