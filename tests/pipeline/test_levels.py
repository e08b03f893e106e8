"""Output levels: no sample beyond the ceiling in either mode, quiet audio untouched; the limiter changes its gain
without clicks, the default one gain keeps every transient's shape."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from foleyzoo.cli.generate_cmd import LEVELS
from foleyzoo.pipeline.levels import (
    CEILING,
    LEVEL_MODES,
    RAMP_SECONDS,
    keep_below_ceiling,
    limit_peaks,
    scale_to_ceiling,
)

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


@pytest.mark.parametrize("mode", LEVEL_MODES)
@settings(max_examples=40, deadline=None)
@given(
    peak=st.floats(0.5, 1e4),
    length=st.integers(1, 4000),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_no_sample_ever_passes_the_ceiling(
    mode: str, peak: float, length: int, channels: int, seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    audio = torch.randn(channels, length, generator=generator)
    audio = audio / audio.abs().max() * peak
    kept = keep_below_ceiling(audio, RATE, mode)
    assert kept.abs().max() <= CEILING
    if mode == "gain":  # one factor for every sample and channel
        factor = min(1.0, CEILING / peak)
        torch.testing.assert_close(kept, audio * factor, rtol=1e-5, atol=1e-7)


def test_one_gain_leaves_quiet_audio_bit_for_bit_and_brings_a_loud_clip_to_the_ceiling() -> None:
    quiet = tone(1.0, 0.5)
    assert scale_to_ceiling(quiet) is quiet
    loud = tone(1.0, 3.0)
    assert abs(float(scale_to_ceiling(loud).abs().max()) - CEILING) < 1e-6


def test_one_gain_keeps_a_transient_whose_attack_the_limiter_reshapes() -> None:
    """A knock over a quiet bed: the limiter dips its gain within 5 ms of the knock (an envelope a sensitive
    onset detector can read as a second onset); one gain keeps the knock's envelope, only quieter."""
    audio = tone(1.0, 0.2)
    audio[:, 8000:8080] *= 15.0  # a 5 ms knock at 3.0 peak
    limited, scaled = limit_peaks(audio, RATE), scale_to_ceiling(audio)
    window = slice(8000 - 200, 8080 + 200)
    ratio_limited = limited[0, window] / audio[0, window]
    ratio_scaled = scaled[0, window] / audio[0, window]
    steady = audio[0, window].abs() > 0.05
    assert float(ratio_scaled[steady].max() - ratio_scaled[steady].min()) < 1e-5
    assert float(ratio_limited[steady].max() - ratio_limited[steady].min()) > 0.5


def test_the_mode_is_chosen_by_name_and_an_unknown_one_is_named() -> None:
    audio = tone(1.0, 0.2)
    audio[:, 4000] = 4.0
    assert torch.equal(keep_below_ceiling(audio, RATE, "limiter"), limit_peaks(audio, RATE))
    assert torch.equal(keep_below_ceiling(audio, RATE, "gain"), scale_to_ceiling(audio))
    with pytest.raises(ValueError, match="levels must be one of gain, limiter, got 'loud'"):
        keep_below_ceiling(audio, RATE, "loud")
    assert LEVELS == LEVEL_MODES  # the command line's choices, named apart so that parsing needs no torch
