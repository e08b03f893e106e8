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


class CountingVocoder(GriffinLimVocoder):
    """Griffin-Lim that records the frame count of every mel it vocodes; ``covers_last_hop`` makes it
    render T · hop samples as BigVGAN does (and say so), ``silent`` hides how many it renders."""

    def __init__(self, covers_last_hop: bool = False, silent: bool = False) -> None:
        super().__init__(**SETTINGS, nnls_steps=8, iterations=2)
        self.covers_last_hop, self.calls = covers_last_hop, []
        if silent:
            self.output_samples = None

    def output_samples(self, frames: int) -> int:
        return frames * self.hop_length if self.covers_last_hop else super().output_samples(frames)

    def vocode(self, mel: Mel):
        self.calls.append(mel.values.shape[-1])
        audio = super().vocode(mel)
        if self.covers_last_hop:
            extended = torch.nn.functional.pad(audio.samples, (0, self.hop_length), mode="replicate")
            return type(audio)(extended, audio.sample_rate)
        return audio


def test_a_vocoder_that_covers_the_length_gets_the_mel_as_it_is() -> None:
    mel = tone_mel(1.0, frames=125)
    covering = CountingVocoder(covers_last_hop=True)
    assert vocode_to_length(covering, mel, 16000).samples.shape[-1] == 16000 and covering.calls == [125]
    short = CountingVocoder()
    vocode_to_length(short, mel, 16000)
    assert short.calls == [126]  # one repeated frame, one run
    unknown = CountingVocoder(silent=True)  # says nothing: run, found short, run again with the tail
    audio = vocode_to_length(unknown, mel, 16000).samples
    assert unknown.calls == [125, 125 + TAIL_FRAMES] and float(audio[..., -128:].abs().max()) > 0
