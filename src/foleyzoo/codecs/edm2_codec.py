"""EDM2MelVAE: an EDM2 1-D mel-VAE as a foleyzoo :class:`~foleyzoo.api.AudioCodec` (MMAudio's codecs).

Waveform → log-mel (its own front-end settings) → posterior mean → latents (B, T, C), and latents →
log-mel (B, 1, n_mels, T · 2^k). The defaults are MMAudio's 16 kHz codec (80 mels, log10, 20 channels,
width 384); :func:`foleyzoo.zoo.mmaudio.load_codec` builds either released size with its weights.

The latents :meth:`EDM2MelVAE.encode` returns are the VAE's own posterior mean, standardised by
``latent_mean``/``latent_std`` (C,), which are 0 and 1 (no change) until :meth:`set_latent_statistics`
gives them the statistics a denoiser was trained with (MMAudio keeps them in its network files).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from foleyzoo.api import AudioCodec, Latents, Mel, Waveform
from foleyzoo.codecs.edm2_vae import EDM2VAEArchitecture, EDM2VAENetwork
from foleyzoo.codecs.mel import MelConfig, MelFrontend

__all__ = ["EDM2MelVAE"]


class EDM2MelVAE(AudioCodec):
    """Mono waveform ⇄ latents (B, T, latent_dim) at ``sample_rate / hop_length / 2^k`` Hz; inference only.

    Mel settings (``sample_rate`` … ``clamp_input``, see :class:`~foleyzoo.codecs.mel.MelConfig`) must be
    those the weights were trained with; the architecture arguments those of the weights.
    """

    api_version = "1.0"

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        log10: bool = True,
        center: bool = False,
        magnitude_eps: float = 1e-9,
        clamp_input: bool = True,
        latent_dim: int = 20,
        hidden: int = 384,
        multipliers: Sequence[int] = (1, 2, 4),
        blocks: int = 2,
        resample_stages: Sequence[int] = (0,),
    ) -> None:
        super().__init__()
        self.mel_config = MelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            log10=log10,
            center=center,
            magnitude_eps=magnitude_eps,
            clamp_input=clamp_input,
        )
        self.architecture = EDM2VAEArchitecture(
            n_mels=n_mels,
            latent_dim=latent_dim,
            hidden=hidden,
            multipliers=tuple(int(m) for m in multipliers),
            blocks=blocks,
            resample_stages=tuple(int(s) for s in resample_stages),
        )
        with torch.device("cpu"):  # the filterbank is computed from Python numbers, also under a meta device
            self.frontend = MelFrontend(self.mel_config)
        self.vae = EDM2VAENetwork(self.architecture)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))

    # ------------------------------------------------------------------ AudioCodec

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    @property
    def latent_dim(self) -> int:
        return self.architecture.latent_dim

    @property
    def latent_rate(self) -> float:
        return self.mel_config.frame_rate / self.architecture.downsample

    @property
    def n_mels(self) -> int:
        return self.mel_config.n_mels

    def latent_frames(self, samples: int) -> int:
        """Latent frames :meth:`encode` returns for a ``samples``-long waveform."""
        return self.mel_config.frames_for(samples) // self.architecture.downsample

    def encode(self, audio: Waveform) -> Latents:
        """Mono waveform (B, 1, N) → standardised posterior mean (B, ``latent_frames(N)``, C)."""
        mean, _ = self.vae.moments(self.log_mel(audio))
        return self._latents(mean)

    def sample(self, audio: Waveform, generator: torch.Generator | None = None) -> Latents:
        """Like :meth:`encode`, with a draw from the posterior N(mean, exp(logvar)) instead of its mean."""
        mean, logvar = self.vae.moments(self.log_mel(audio))
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return self._latents(mean + (0.5 * logvar).exp() * noise)

    def decode(self, latents: Latents) -> Mel:
        """Latents (B, T, C) → log-mel (B, 1, n_mels, T · 2^k) at the front-end's frame rate."""
        if latents.values.shape[-1] != self.latent_dim:
            raise ValueError(
                f"latents have {latents.values.shape[-1]} channels, this codec {self.latent_dim}"
            )
        z = latents.values * self.latent_std + self.latent_mean
        mel = self.vae.decode(z.transpose(1, 2))
        return Mel(values=mel[:, None], sample_rate=self.sample_rate, frame_rate=self.mel_config.frame_rate)

    def reconstruct(self, audio: Waveform) -> Mel:
        """Mono waveform (B, 1, N) → decoded log-mel (B, 1, n_mels, 2^k · latent_frames(N))."""
        return self.decode(self.encode(audio))

    # ------------------------------------------------------------------ helpers

    def log_mel(self, audio: Waveform) -> Tensor:
        """Mono waveform (B, 1, N) → log-mel (B, n_mels, ``mel_config.frames_for(N)``); checks rate and channels."""
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"audio is {audio.sample_rate} Hz, this codec expects {self.sample_rate} Hz")
        if audio.samples.dim() != 3 or audio.samples.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} is mono: expected (B, 1, N), got {tuple(audio.samples.shape)}"
            )
        return self.frontend(audio.samples)[:, 0]

    @torch.no_grad()
    def set_latent_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Standardise latents by these per-channel statistics (C,) from now on (a denoiser's, say)."""
        for name, value in (("mean", mean), ("std", std)):
            if value.numel() != self.latent_dim:
                raise ValueError(
                    f"latent {name} has {value.numel()} values, this codec {self.latent_dim} channels"
                )
        if not bool((std > 0).all()):
            raise ValueError("latent std must be positive")
        self.latent_mean.copy_(mean.reshape(-1))
        self.latent_std.copy_(std.reshape(-1))

    def _latents(self, raw: Tensor) -> Latents:
        normalised = (raw.transpose(1, 2) - self.latent_mean) / self.latent_std
        return Latents(values=normalised, frame_rate=self.latent_rate)
