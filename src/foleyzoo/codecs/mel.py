"""Log-mel spectrograms on torch: the front-end the codec encodes and the vocoders invert.

The filterbank follows the Slaney mel scale and area normalisation (librosa's default), so spectrograms
match what pretrained vocoders such as BigVGAN and Vocos were trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from foleyzoo.api import Mel, Waveform


@dataclass(frozen=True)
class MelConfig:
    """STFT and mel settings; ``frame_rate`` = sample_rate / hop_length mel frames a second."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int | None = None
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        if self.hop_length <= 0 or self.n_fft <= 0 or self.hop_length > self.n_fft:
            raise ValueError(
                f"need 0 < hop_length <= n_fft (else frames leave gaps), got hop_length={self.hop_length}, "
                f"n_fft={self.n_fft}"
            )

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def window_length(self) -> int:
        return self.win_length or self.n_fft

    def frames_for(self, samples: int) -> int:
        """Mel frames of a ``samples``-long waveform (centred STFT)."""
        return samples // self.hop_length + 1


def hz_to_mel(hz: Tensor) -> Tensor:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    linear = hz / f_sp
    return torch.where(
        hz >= min_log_hz, min_log_mel + torch.log(hz.clamp_min(1e-10) / min_log_hz) / logstep, linear
    )


def mel_to_hz(mel: Tensor) -> Tensor:
    """Inverse of :func:`hz_to_mel`."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(config: MelConfig) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters on the Slaney scale with Slaney area normalisation."""
    f_max = config.f_max if config.f_max is not None else config.sample_rate / 2
    fft_freqs = torch.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1, dtype=torch.float64)
    mel_points = torch.linspace(
        hz_to_mel(torch.tensor(config.f_min, dtype=torch.float64)).item(),
        hz_to_mel(torch.tensor(f_max, dtype=torch.float64)).item(),
        config.n_mels + 2,
        dtype=torch.float64,
    )
    hz_points = mel_to_hz(mel_points)
    lower, centre, upper = hz_points[:-2, None], hz_points[1:-1, None], hz_points[2:, None]
    rising = (fft_freqs[None] - lower) / (centre - lower)
    falling = (upper - fft_freqs[None]) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights *= 2.0 / (upper - lower)  # each filter has unit area in Hz
    return weights.float()


class MelFrontend(nn.Module):
    """Waveform (B, C, N) → log-mel (B, C, n_mels, N // hop + 1): magnitude STFT, mel filters, log(clamp)."""

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        self.register_buffer("filters", mel_filterbank(self.config), persistent=False)
        self.register_buffer("window", torch.hann_window(self.config.window_length), persistent=False)

    def magnitude(self, samples: Tensor) -> Tensor:
        """(B, C, N) → (B, C, n_fft // 2 + 1, T) STFT magnitudes."""
        batch, channels, length = samples.shape
        spec = torch.stft(
            samples.reshape(batch * channels, length),
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            win_length=self.config.window_length,
            window=self.window,
            center=True,
            pad_mode="reflect" if length > self.config.n_fft // 2 else "constant",
            return_complex=True,
        )
        return spec.abs().reshape(batch, channels, *spec.shape[-2:])

    def forward(self, samples: Tensor) -> Tensor:
        mel = torch.einsum("mf,bcft->bcmt", self.filters, self.magnitude(samples))
        return torch.log(mel.clamp_min(self.config.log_floor))

    def mel(self, audio: Waveform) -> Mel:
        """The :class:`~foleyzoo.api.Mel` record of a :class:`~foleyzoo.api.Waveform`."""
        if audio.sample_rate != self.config.sample_rate:
            raise ValueError(
                f"audio is {audio.sample_rate} Hz, this front-end expects {self.config.sample_rate} Hz"
            )
        return Mel(
            values=self(audio.samples), sample_rate=self.config.sample_rate, frame_rate=self.config.frame_rate
        )
