"""Log-mel spectrograms on torch: the front-end the codec encodes and the vocoders invert.

The filterbank follows the Slaney mel scale and area normalisation (librosa's default), so spectrograms
match what pretrained vocoders such as BigVGAN and Vocos were trained on. The defaults are foleyzoo's own
front-end (centred STFT, ``|STFT|``, natural log); the options reproduce the HiFi-GAN/BigVGAN front-end that
MMAudio's codecs were trained on: reflect padding of (n_fft − hop) / 2 each side and no centring
(``center=False``), ``sqrt(re² + im² + magnitude_eps)``, ``log10`` and input clamped to [−1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Mel, Waveform


@dataclass(frozen=True)
class MelConfig:
    """STFT and mel settings; ``frame_rate`` = sample_rate / hop_length mel frames a second.

    ``center``: True centres frame t on sample t · hop (the STFT pads n_fft // 2 each side, reflecting);
    False pads (n_fft − hop) // 2 each side by reflection and does not centre (HiFi-GAN's, BigVGAN's and
    MMAudio's front-end), so a waveform of N samples gives N // hop frames. ``magnitude_eps`` > 0 takes
    magnitudes as sqrt(re² + im² + magnitude_eps) instead of |STFT|; ``log10`` takes log10 instead of the
    natural log of the floored mel; ``clamp_input`` clamps samples to [−1, 1] first.
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int | None = None
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None
    log_floor: float = 1e-5
    center: bool = True
    magnitude_eps: float = 0.0
    log10: bool = False
    clamp_input: bool = False

    def __post_init__(self) -> None:
        if self.hop_length <= 0 or self.n_fft <= 0 or self.hop_length > self.n_fft:
            raise ValueError(
                f"need 0 < hop_length <= n_fft (else frames leave gaps), got hop_length={self.hop_length}, "
                f"n_fft={self.n_fft}"
            )
        if self.magnitude_eps < 0:
            raise ValueError(f"magnitude_eps must be >= 0, got {self.magnitude_eps}")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def window_length(self) -> int:
        return self.win_length or self.n_fft

    @property
    def side_padding(self) -> int:
        """Samples added on each side before a non-centred STFT: (n_fft − hop) // 2 (0 when centred)."""
        return 0 if self.center else (self.n_fft - self.hop_length) // 2

    @property
    def log_name(self) -> str:
        """``"log10"`` or ``"ln"``: the logarithm the mels are taken with (what a vocoder must invert)."""
        return "log10" if self.log10 else "ln"

    def frames_for(self, samples: int) -> int:
        """Mel frames of a ``samples``-long waveform: N // hop + 1 centred, (N + 2·pad − n_fft) // hop + 1 not."""
        if self.center:
            return samples // self.hop_length + 1
        return (samples + 2 * self.side_padding - self.n_fft) // self.hop_length + 1


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
    """Waveform (B, C, N) → log-mel (B, C, n_mels, ``config.frames_for(N)``): magnitude STFT, mel filters, log(clamp)."""

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        self.register_buffer("filters", mel_filterbank(self.config), persistent=False)
        self.register_buffer("window", torch.hann_window(self.config.window_length), persistent=False)

    def magnitude(self, samples: Tensor) -> Tensor:
        """(B, C, N) → (B, C, n_fft // 2 + 1, T) STFT magnitudes."""
        config = self.config
        batch, channels, length = samples.shape
        flat = samples.reshape(batch * channels, length)
        if config.clamp_input:
            flat = flat.clamp(-1.0, 1.0)
        pad = config.side_padding
        if pad:  # reflection needs more samples than it pads; shorter inputs are padded with zeros
            flat = F.pad(flat[:, None], (pad, pad), mode="reflect" if length > pad else "constant")[:, 0]
        spec = torch.stft(
            flat,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.window_length,
            window=self.window,
            center=config.center,
            pad_mode="reflect" if length > config.n_fft // 2 else "constant",
            return_complex=True,
        )
        if config.magnitude_eps > 0:
            magnitude = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + config.magnitude_eps)
        else:
            magnitude = spec.abs()
        return magnitude.reshape(batch, channels, *spec.shape[-2:])

    def forward(self, samples: Tensor) -> Tensor:
        mel = torch.einsum("mf,bcft->bcmt", self.filters, self.magnitude(samples))
        floored = mel.clamp_min(self.config.log_floor)
        return torch.log10(floored) if self.config.log10 else torch.log(floored)

    def mel(self, audio: Waveform) -> Mel:
        """The :class:`~foleyzoo.api.Mel` record of a :class:`~foleyzoo.api.Waveform`."""
        if audio.sample_rate != self.config.sample_rate:
            raise ValueError(
                f"audio is {audio.sample_rate} Hz, this front-end expects {self.config.sample_rate} Hz"
            )
        return Mel(
            values=self(audio.samples), sample_rate=self.config.sample_rate, frame_rate=self.config.frame_rate
        )


def mel_log_of(part: object) -> str | None:
    """``"ln"`` or ``"log10"``: the logarithm of the mels a codec makes or a vocoder inverts (its
    ``mel_config`` or ``mel_settings``); None where the part does not say."""
    settings = getattr(part, "mel_config", None) or getattr(part, "mel_settings", None)
    return settings.log_name if isinstance(settings, MelConfig) else None
