"""MelVAE: Kling-Foley's mel-VAE-GAN codec, waveform → log-mel → compact latents → log-mel.

The encoder maps a normalised log-mel (B, n_mels, T) to the mean and log-variance of a latent sequence
(B, latent_dim, T / downsample) with strided 1-D convolutions over time (mel bands are channels); the
decoder mirrors it with transposed convolutions. Training (manual optimisation, two optimizers) uses a
mel L1 reconstruction loss, an optional L1 on frame-to-frame mel changes (onsets), a weighted KL term and, from ``adversarial_start_step`` on, a multi-scale
mel discriminator with hinge and feature-matching losses. Per-channel latent statistics, tracked on
the training data, make :meth:`MelVAE.encode` hand the diffusion model latents of about unit variance.
A :class:`~foleyzoo.api.Vocoder` turns decoded mels back into sound.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import AudioCodec, Latents, Mel, Vocoder, Waveform
from foleyzoo.codecs.discriminator import (
    MultiScaleMelDiscriminator,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_hinge_loss,
)
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.io.hparams import save_config_hyperparameters

__all__ = ["MelDecoder", "MelEncoder", "MelVAE", "flux_l1", "kl_divergence", "mean_frame_l1"]


class ResBlock1d(nn.Module):
    """Two dilated 3-tap convolutions with a skip: (B, C, T) → (B, C, T)."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def _blocks(channels: int, count: int) -> list[nn.Module]:
    """``count`` residual blocks with dilations 1, 3, 9, … (a wide receptive field at little cost)."""
    return [ResBlock1d(channels, 3 ** (k % 3)) for k in range(count)]


def _stages(downsample: int) -> int:
    """Number of ×2 stages of a power-of-two ``downsample`` factor; other factors are refused."""
    if downsample < 1 or downsample & (downsample - 1):
        raise ValueError(f"downsample must be a power of two (1, 2, 4, …), got {downsample}")
    return int(math.log2(downsample))


class MelEncoder(nn.Module):
    """Normalised mel (B, n_mels, T) → posterior mean and log-variance, each (B, latent_dim, T / downsample).

    T must be a multiple of ``downsample`` (:class:`MelVAE` pads).
    """

    def __init__(self, n_mels: int, latent_dim: int, downsample: int, channels: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(n_mels, channels, 7, padding=3)]
        for _ in range(_stages(downsample)):
            layers += [
                *_blocks(channels, blocks),
                nn.SiLU(),
                nn.Conv1d(channels, channels, 4, stride=2, padding=1),
            ]
        layers += [*_blocks(channels, blocks), nn.SiLU(), nn.Conv1d(channels, 2 * latent_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.net(mel).chunk(2, dim=1)
        return mean, logvar.clamp(-20.0, 10.0)


class MelDecoder(nn.Module):
    """Latents (B, latent_dim, T) → normalised mel (B, n_mels, T · downsample)."""

    def __init__(self, n_mels: int, latent_dim: int, downsample: int, channels: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(latent_dim, channels, 3, padding=1), *_blocks(channels, blocks)]
        for _ in range(_stages(downsample)):
            layers += [nn.SiLU(), nn.ConvTranspose1d(channels, channels, 4, stride=2, padding=1)]
            layers += _blocks(channels, blocks)
        layers += [nn.SiLU(), nn.Conv1d(channels, n_mels, 7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, latents: Tensor) -> Tensor:
        return self.net(latents)


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """Mean over elements of KL(N(mean, exp(logvar)) ‖ N(0, 1))."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def flux_l1(recon: Tensor, target: Tensor) -> Tensor:
    """L1 between the frame-to-frame changes of two mels (B, n_mels, T): how sharply onsets are kept."""
    return F.l1_loss(recon.diff(dim=-1), target.diff(dim=-1))


def mean_frame_l1(mel: Tensor) -> Tensor:
    """Per-clip L1 of predicting every frame by the clip's mean frame: mel (B, n_mels, T) → (B,)."""
    return (mel - mel.mean(dim=-1, keepdim=True)).abs().mean(dim=(1, 2))


class MelVAE(LightningModule, AudioCodec):
    """Mono waveform ⇄ latents (B, T, latent_dim) at ``sample_rate / hop_length / downsample`` Hz.

    ``max_steps`` of a trainer counts both optimizers' steps: every training batch steps the VAE and
    the discriminator once each (the discriminator with zero gradient before ``adversarial_start_step``).
    ``adversarial_start_step`` and ``segment_frames`` count batches and mel frames; ``scheduler`` (for
    the VAE's optimizer) steps once a batch. ``vocoder`` is not
    used in training; it is what :mod:`foleyzoo.cli.codec` renders decoded mels with when given.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        latent_dim: int = 16,
        downsample: int = 4,
        channels: int = 64,
        blocks: int = 2,
        disc_channels: int = 16,
        disc_scales: int = 3,
        kl_weight: float = 1e-4,
        flux_weight: float = 0.0,
        adv_weight: float = 0.1,
        feature_matching_weight: float = 1.0,
        adversarial_start_step: int = 0,
        segment_frames: int | None = 64,
        mel_offset: float = -5.0,
        mel_scale: float = 2.5,
        stats_momentum: float = 0.05,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        discriminator_optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
        vocoder: Vocoder | None = None,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.automatic_optimization = False
        self.mel_config = MelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
        )
        with torch.device("cpu"):  # the filterbank is computed from Python numbers, also under a meta device
            self.frontend = MelFrontend(self.mel_config)
        self.downsample, self._latent_dim = downsample, latent_dim
        self.encoder = MelEncoder(n_mels, latent_dim, downsample, channels, blocks)
        self.decoder = MelDecoder(n_mels, latent_dim, downsample, channels, blocks)
        self.discriminator = MultiScaleMelDiscriminator(disc_scales, disc_channels)
        self.kl_weight, self.flux_weight, self.adv_weight = kl_weight, flux_weight, adv_weight
        self.feature_matching_weight = feature_matching_weight
        self.adversarial_start_step, self.segment_frames = adversarial_start_step, segment_frames
        self.mel_offset, self.mel_scale, self.stats_momentum = mel_offset, mel_scale, stats_momentum
        self.optimizer_factory = optimizer
        self.discriminator_optimizer_factory = discriminator_optimizer
        self.scheduler_factory = scheduler
        self.vocoder = vocoder
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))
        self.register_buffer("latent_stats_ready", torch.tensor(False))

    # ------------------------------------------------------------------ AudioCodec

    @property
    def sample_rate(self) -> int:
        return self.mel_config.sample_rate

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def latent_rate(self) -> float:
        return self.mel_config.frame_rate / self.downsample

    @property
    def n_mels(self) -> int:
        return self.mel_config.n_mels

    @property
    def log_floor(self) -> float:
        """The smallest log-mel value the front-end produces (silence)."""
        return math.log(self.mel_config.log_floor)

    def latent_frames(self, samples: int) -> int:
        """Latent frames :meth:`encode` returns for a ``samples``-long waveform."""
        return math.ceil(self.mel_config.frames_for(samples) / self.downsample)

    def latent_frames_for(self, seconds: float) -> int:
        """:meth:`latent_frames` of a ``seconds``-long clip: one more than seconds × latent rate where
        that is whole (the centred mel's last frame), as many as training encodes for such a clip."""
        return max(1, self.latent_frames(round(seconds * self.sample_rate)))

    def encode(self, audio: Waveform) -> Latents:
        """Mono waveform (B, 1, N) → normalised posterior-mean latents (B, ceil((N // hop + 1) / downsample), C)."""
        mean, _ = self.encoder(self.normalise(self.pad_frames(self.log_mel(audio))))
        normalised = (mean - self.latent_mean[:, None]) / self.latent_std[:, None]
        return Latents(values=normalised.transpose(1, 2), frame_rate=self.latent_rate)

    def decode(self, latents: Latents) -> Mel:
        """Latents (B, T, C) → log-mel (B, 1, n_mels, T · downsample) at the front-end's frame rate."""
        if latents.values.shape[-1] != self.latent_dim:
            raise ValueError(
                f"latents have {latents.values.shape[-1]} channels, this codec {self.latent_dim}"
            )
        z = latents.values.transpose(1, 2) * self.latent_std[:, None] + self.latent_mean[:, None]
        mel = self.denormalise(self.decoder(z)).clamp_min(self.log_floor)
        return Mel(values=mel[:, None], sample_rate=self.sample_rate, frame_rate=self.mel_config.frame_rate)

    def reconstruct(self, audio: Waveform) -> Mel:
        """Mono waveform (B, 1, N) → decoded log-mel (B, 1, n_mels, N // hop + 1), trimmed to the input's frames."""
        frames = self.mel_config.frames_for(audio.samples.shape[-1])
        mel = self.decode(self.encode(audio))
        return Mel(values=mel.values[..., :frames], sample_rate=mel.sample_rate, frame_rate=mel.frame_rate)

    # ------------------------------------------------------------------ mel helpers

    def log_mel(self, audio: Waveform) -> Tensor:
        """Mono waveform (B, 1, N) → log-mel (B, n_mels, N // hop + 1); checks rate and channels."""
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"audio is {audio.sample_rate} Hz, this codec expects {self.sample_rate} Hz")
        if audio.samples.shape[1] != 1:
            raise ValueError(f"MelVAE is mono: expected (B, 1, N), got {tuple(audio.samples.shape)}")
        return self.frontend(audio.samples)[:, 0]

    def pad_frames(self, mel: Tensor) -> Tensor:
        """(B, n_mels, T) → (B, n_mels, T') with T' the next multiple of ``downsample``, the last frame repeated.

        Repeated, not silence: a clip of N samples has N // hop + 1 frames, odd for most lengths, and a
        silent frame after a loud one made every clip's last latent encode a cliff the decoder could not
        rebuild (|z| twice the median), which the MM-DiT then learnt to generate as a burst at the end.
        """
        extra = -mel.shape[-1] % self.downsample
        return F.pad(mel, (0, extra), mode="replicate") if extra else mel

    def normalise(self, mel: Tensor) -> Tensor:
        """Log-mel → the network's input scale (about zero mean, unit spread on typical audio)."""
        return (mel - self.mel_offset) / self.mel_scale

    def denormalise(self, mel: Tensor) -> Tensor:
        """Inverse of :meth:`normalise`."""
        return mel * self.mel_scale + self.mel_offset

    # ------------------------------------------------------------------ latent statistics

    @torch.no_grad()
    def update_latent_stats(self, mean: Tensor) -> None:
        """Fold a batch of posterior means (B, C, T) into the running per-channel mean and std."""
        batch_mean = mean.mean(dim=(0, 2))
        batch_std = mean.transpose(0, 1).reshape(self.latent_dim, -1).std(dim=1).clamp_min(1e-4)
        if not bool(self.latent_stats_ready):
            self.latent_mean.copy_(batch_mean)
            self.latent_std.copy_(batch_std)
            self.latent_stats_ready.fill_(True)
            return
        self.latent_mean.lerp_(batch_mean, self.stats_momentum)
        self.latent_std.lerp_(batch_std, self.stats_momentum)

    @torch.no_grad()
    def measure_latent_stats(self, batches: list[Waveform]) -> None:
        """Set the per-channel latent mean and std exactly from mono waveforms (each (B, 1, N))."""
        means = [self.encoder(self.normalise(self.pad_frames(self.log_mel(w))))[0] for w in batches]
        flat = torch.cat([m.transpose(0, 1).reshape(self.latent_dim, -1) for m in means], dim=1)
        self.latent_mean.copy_(flat.mean(dim=1))
        self.latent_std.copy_(flat.std(dim=1).clamp_min(1e-4))
        self.latent_stats_ready.fill_(True)

    # ------------------------------------------------------------------ training

    def training_segment(self, audio: Waveform) -> Waveform:
        """A random crop (B, 1, (segment_frames - 1) · hop) of the batch, hop-aligned: its mel has segment_frames frames."""
        hop = self.mel_config.hop_length
        length = audio.samples.shape[-1]
        if self.segment_frames is None or length <= (self.segment_frames - 1) * hop:
            return audio
        size = (self.segment_frames - 1) * hop
        start = hop * int(torch.randint(0, (length - size) // hop + 1, ()).item())
        return Waveform(samples=audio.samples[..., start : start + size], sample_rate=audio.sample_rate)

    def vae_pass(self, target: Tensor, sample: bool) -> tuple[Tensor, Tensor, Tensor]:
        """Normalised mel (B, n_mels, T) → (reconstruction, posterior mean, log-variance)."""
        mean, logvar = self.encoder(target)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else mean
        return self.decoder(z), mean, logvar

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        opt_g, opt_d = self.optimizers()
        target = self.normalise(self.pad_frames(self.log_mel(self.training_segment(batch["audio"]))))
        recon, mean, logvar = self.vae_pass(target, sample=True)
        self.update_latent_stats(mean.detach())
        adversarial = self.global_step // 2 >= self.adversarial_start_step

        reconstruction, kl = F.l1_loss(recon, target), kl_divergence(mean, logvar)
        loss_g = reconstruction + self.kl_weight * kl
        if self.flux_weight > 0:
            flux = flux_l1(recon, target)
            loss_g = loss_g + self.flux_weight * flux
            self.log("train/flux_l1", flux)
        if adversarial:
            real, fake = self.discriminator(target), self.discriminator(recon)
            adv, fm = generator_hinge_loss(fake), feature_matching_loss(real, fake)
            loss_g = loss_g + self.adv_weight * adv + self.feature_matching_weight * fm
            self.log_dict({"train/adv": adv, "train/feature_matching": fm})
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        scheduler = self.lr_schedulers()
        if scheduler is not None:  # stepped once a batch, after the VAE's optimizer
            scheduler.step()

        opt_d.zero_grad()
        if adversarial:
            loss_d = discriminator_hinge_loss(self.discriminator(target), self.discriminator(recon.detach()))
            self.manual_backward(loss_d)
            self.log("train/discriminator", loss_d)
        opt_d.step()
        self.log_dict({"train/mel_l1": reconstruction, "train/kl": kl}, prog_bar=True)
        return loss_g.detach()

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        mel = self.log_mel(batch["audio"])
        recon, _, _ = self.vae_pass(self.normalise(self.pad_frames(mel)), sample=False)
        recon = self.denormalise(recon)[..., : mel.shape[-1]].clamp_min(self.log_floor)
        l1 = (recon - mel).abs().mean(dim=(1, 2))
        baseline = mean_frame_l1(mel)
        size = mel.shape[0]
        self.log("val/mel_l1", l1.mean(), prog_bar=True, batch_size=size)
        self.log("val/mean_frame_l1", baseline.mean(), batch_size=size)
        self.log("val/l1_ratio", l1.sum() / baseline.sum(), prog_bar=True, batch_size=size)

    def configure_optimizers(self) -> Any:
        """The VAE's and the discriminator's optimizers, and the VAE's schedule (one step a batch) if given."""
        vae = [*self.encoder.parameters(), *self.decoder.parameters()]
        optimizers = [
            self.optimizer_factory(vae),
            self.discriminator_optimizer_factory(self.discriminator.parameters()),
        ]
        if self.scheduler_factory is None:
            return optimizers
        return optimizers, [self.scheduler_factory(optimizers[0])]
