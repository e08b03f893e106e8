"""Vocoded audio reaches the length asked for without a silent tail (whose hard stop would be a click)."""

from __future__ import annotations

import torch

from foleyzoo.api import Mel
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.synthfoley.scorer import STRICT, detect_onsets
from foleyzoo.vocoders import GriffinLimVocoder
from foleyzoo.vocoders.base import TAIL_FRAMES, vocode_to_length

SETTINGS = {"sample_rate": 16000, "n_fft": 512, "hop_length": 128, "n_mels": 64}


def tone_mel(seconds: float, frames: int | None = None) -> Mel:
    """The log-mel of a steady 440 Hz tone, cut to ``frames`` frames (the codec's decoded count)."""
    config = MelConfig(**SETTINGS)
    time = torch.arange(round(seconds * 16000)) / 16000
    values = MelFrontend(config)((0.5 * torch.sin(2 * torch.pi * 440 * time))[None, None])
    values = values[..., :frames] if frames is not None else values
    return Mel(values, config.sample_rate, config.frame_rate)


def test_the_last_hop_is_sound_not_zeros() -> None:
    vocoder = GriffinLimVocoder(**SETTINGS, nnls_steps=64)
    mel = tone_mel(1.0, frames=125)  # 1 s = 125 hops: the vocoder alone gives (125 - 1) * 128 samples
    assert vocoder.vocode(mel).samples.shape[-1] == 124 * 128
    audio = vocode_to_length(vocoder, mel, 16000)
    assert audio.samples.shape == (1, 1, 16000) and audio.sample_rate == 16000
    tail, body = audio.samples[..., -128:], audio.samples[..., 8000:12000]
    rms = lambda x: float(x.square().mean().sqrt())  # noqa: E731
    assert rms(tail) > 0.5 * rms(body)  # the tone goes on to the end
    # zeros in its place would stop the tone dead: a click the strict detector reads as an onset
    padded = torch.nn.functional.pad(vocoder.vocode(mel).samples[0], (0, 128))
    assert len(detect_onsets(padded.numpy(), STRICT)) > len(detect_onsets(audio.samples[0].numpy(), STRICT))


def test_a_longer_mel_is_cut_and_a_much_shorter_one_still_ends_in_zeros() -> None:
    vocoder = GriffinLimVocoder(**SETTINGS, nnls_steps=64)
    mel = tone_mel(1.0)
    assert vocode_to_length(vocoder, mel, 8000).samples.shape[-1] == 8000
    short = tone_mel(0.5, frames=60)
    audio = vocode_to_length(vocoder, short, 16000).samples
    covered = (60 - 1 + TAIL_FRAMES) * 128  # at most TAIL_FRAMES repeated frames: no invented sound
    assert audio.shape[-1] == 16000 and float(audio[..., covered:].abs().max()) == 0.0
    assert float(audio[..., covered - 128 : covered].abs().max()) > 0.0
