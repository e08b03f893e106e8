"""What every foleyzoo vocoder shares: channel-by-channel vocoding of Mel records and checks of their shape.

A subclass implements :meth:`MelVocoderBase.synthesize` on (B', n_mels, T) and gets stereo for free.
"""

from __future__ import annotations

import torch
from torch import Tensor

from foleyzoo.api import AudioCodec, Mel, Vocoder, Waveform
from foleyzoo.codecs.mel import MelConfig, mel_log_of
from foleyzoo.errors import ConfigError

TAIL_FRAMES = 2
"""The most frames :func:`vocode_to_length` repeats: enough for the last partial hop of any vocoder."""


def vocode_to_length(vocoder: Vocoder, mel: Mel, length: int) -> Waveform:
    """Exactly ``length`` samples vocoded from ``mel`` (B, C, n_mels, T), cut or completed at the end.

    Most mel vocoders render T frames as (T − 1) · hop samples, up to a hop short of the audio the
    frames stand for. Zeros in place of that tail end the sound with a click, a broadband onset at the
    end of every file, so the mel's last frame is repeated (at most ``TAIL_FRAMES`` times) until the
    vocoder covers ``length``; a vocoder that already covers it (BigVGAN: T · hop) gets the mel as it
    is, and only a mel far shorter than ``length`` still ends in zeros. Vocoders that say how many
    samples T frames give (``output_samples``) are run once; others once more when they fall short.
    """
    frames = mel.values.shape[-1]
    output_samples = getattr(vocoder, "output_samples", None)
    if output_samples is None:
        samples = vocoder.vocode(mel).samples
        if samples.shape[-1] >= length:
            return Waveform(samples[..., :length], vocoder.sample_rate)
        extra = TAIL_FRAMES
    else:
        extra = next((n for n in range(TAIL_FRAMES + 1) if output_samples(frames + n) >= length), TAIL_FRAMES)
    if extra:
        repeated = mel.values[..., -1:].expand(*mel.values.shape[:-1], extra)
        mel = Mel(torch.cat([mel.values, repeated], dim=-1), mel.sample_rate, mel.frame_rate)
    # data.audio.fit_length's cut and pad, written here: the data layer stands above the parts
    samples = vocoder.vocode(mel).samples[..., :length]
    samples = torch.nn.functional.pad(samples, (0, length - samples.shape[-1]))
    return Waveform(samples, vocoder.sample_rate)


def check_vocoder_follows(vocoder: Vocoder, codec: AudioCodec) -> None:
    """Refuse a vocoder that inverts mels of another logarithm than the codec makes (both must say which)."""
    made, inverted = mel_log_of(codec), mel_log_of(vocoder)
    if made is None or inverted is None or made == inverted:
        return
    raise ConfigError(
        f"the codec {type(codec).__name__} makes {made} mels, the vocoder {type(vocoder).__name__} inverts "
        f"{inverted} mels: it would render noise; pair the codec with a vocoder of its own mel settings "
        "(MMAudio's codecs: foleyzoo.zoo.mmaudio.load_vocoder of the same variant)"
    )


class MelVocoderMixin:
    """Implements :meth:`~foleyzoo.api.Vocoder.vocode` from ``synthesize`` (B, n_mels, T) → (B, (T - 1) * hop)."""

    mel_settings: MelConfig

    @property
    def sample_rate(self) -> int:
        """Rate of the waveforms it produces, in Hz."""
        return self.mel_settings.sample_rate

    @property
    def n_mels(self) -> int:
        """Mel bands it expects."""
        return self.mel_settings.n_mels

    @property
    def hop_length(self) -> int:
        """Samples a mel frame."""
        return self.mel_settings.hop_length

    def output_samples(self, frames: int) -> int:
        """Samples that ``frames`` mel frames vocode to: (T − 1) · hop, a centred STFT's source."""
        return (frames - 1) * self.hop_length

    def synthesize(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, (T - 1) * hop) samples."""
        raise NotImplementedError

    def vocode(self, mel: Mel) -> Waveform:
        """Mel (B, C, n_mels, T) → waveform (B, C, (T - 1) * hop); channels are vocoded independently."""
        if mel.n_mels != self.n_mels:
            raise ValueError(f"{type(self).__name__} expects {self.n_mels} mel bands, got {mel.n_mels}")
        if mel.sample_rate != self.sample_rate:
            raise ValueError(
                f"{type(self).__name__} renders {self.sample_rate} Hz audio, the mel is for {mel.sample_rate} Hz"
            )
        batch, channels, n_mels, frames = mel.values.shape
        if frames < 2:
            raise ValueError(f"need at least 2 mel frames to vocode, got {frames}")
        samples = self.synthesize(mel.values.reshape(batch * channels, n_mels, frames))
        return Waveform(samples.reshape(batch, channels, -1), self.sample_rate)
