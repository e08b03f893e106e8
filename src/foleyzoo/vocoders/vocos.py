"""Vocos (Siuzdak, 2023): a ConvNeXt backbone on mel frames and an iSTFT head — a neural vocoder fast on a CPU.

All layers run at the frame rate and the inverse STFT does the upsampling, so a small model trains in
minutes on a CPU. Parameter names follow the official implementation (``backbone.embed``,
``backbone.norm``, ``backbone.convnext.N.{dwconv,norm,pwconv1,pwconv2,gamma}``,
``backbone.final_layer_norm``, ``head.out``), so an official ``pytorch_model.bin`` or a safetensors
export loads with ``checkpoint=`` (its feature-extractor and window buffers are ignored: foleyzoo's own
:class:`~foleyzoo.codecs.mel.MelFrontend` makes the mels). The module is also a LightningModule trained by
``foleyzoo fit`` with log-mel L1 + multi-resolution STFT losses (no discriminator).
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from foleyzoo.api import Vocoder, Waveform
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.io.hparams import save_config_hyperparameters
from foleyzoo.vocoders.base import MelVocoderMixin
from foleyzoo.vocoders.losses import multi_resolution_stft
from foleyzoo.vocoders.weights import check_fits, read_state_dict

IGNORED_PREFIXES = ("feature_extractor.", "head.istft.")
"""Buffers of official Vocos checkpoints that foleyzoo recomputes (mel filters, iSTFT window)."""


class ConvNeXtBlock(nn.Module):
    """Depthwise conv → LayerNorm → MLP (GELU) → layer scale, with a residual; (B, dim, T) → same."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2))
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.transpose(1, 2)


class VocosBackbone(nn.Module):
    """Conv embedding, LayerNorm, ConvNeXt blocks, final LayerNorm: (B, n_mels, T) → (B, T, dim)."""

    def __init__(self, n_mels: int, dim: int, intermediate_dim: int, num_layers: int) -> None:
        super().__init__()
        self.embed = nn.Conv1d(n_mels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, 1.0 / num_layers) for _ in range(num_layers)
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFTHead(nn.Module):
    """Linear → log-magnitude and phase angle per bin → complex STFT → centred iSTFT: (B, T, dim) → (B, (T-1)·hop)."""

    def __init__(self, dim: int, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.out = nn.Linear(dim, n_fft + 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        log_magnitude, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude).clamp(max=1e2)
        spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return torch.istft(spec, self.n_fft, self.hop_length, window=self.window, center=True)


class VocosVocoder(MelVocoderMixin, LightningModule, Vocoder):
    """Log-mel (B, C, n_mels, T) → waveform (B, C, (T - 1) * hop) with a Vocos network; trainable with ``foleyzoo fit``.

    Training batches carry ``batch["audio"]``, a :class:`~foleyzoo.api.Waveform` (B, 1, N) (or its
    samples); the loss is log-mel L1 + ``stft_weight`` × multi-resolution STFT distance. ``checkpoint``
    loads pretrained weights from a local file (official Vocos layout or a ``foleyzoo fit`` checkpoint).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        dim: int = 512,
        intermediate_dim: int = 1536,
        num_layers: int = 8,
        mel_weight: float = 1.0,
        stft_weight: float = 1.0,
        checkpoint: str | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.mel_settings = MelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
        )
        self.mel_weight, self.stft_weight = mel_weight, stft_weight
        self.optimizer_factory = optimizer
        self.frontend = MelFrontend(self.mel_settings)
        self.backbone = VocosBackbone(n_mels, dim, intermediate_dim, num_layers)
        self.head = ISTFTHead(dim, n_fft, hop_length)
        if checkpoint is not None:
            self.load_pretrained(checkpoint)

    def load_pretrained(self, path: str | Path) -> None:
        """Load backbone and head weights from a local file; a ConfigError naming it when they do not fit."""
        stored = {
            key: value for key, value in read_state_dict(path).items() if not key.startswith(IGNORED_PREFIXES)
        }
        check_fits(path, self.state_dict(), stored, "Vocos")
        self.load_state_dict(stored)

    def forward(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, (T - 1) * hop) samples."""
        return self.head(self.backbone(log_mel))

    def synthesize(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, (T - 1) * hop) samples, without gradients."""
        with torch.no_grad():
            return self(log_mel)

    # ----------------------------------------------------------------------- training

    @staticmethod
    def _samples(batch: dict) -> Tensor:
        """The batch's audio as mono (B, N) samples."""
        audio = batch["audio"]
        samples = audio.samples if isinstance(audio, Waveform) else audio
        return samples.mean(dim=1)

    def losses(self, samples: Tensor) -> dict[str, Tensor]:
        """Reconstruct (B, N) audio from its mel; returns ``mel_l1``, ``mrstft`` and their weighted ``loss``."""
        log_mel = self.frontend(samples[:, None])[:, 0]
        predicted = self(log_mel)
        target = samples[:, : predicted.shape[-1]]
        mel_l1 = (self.frontend(predicted[:, None]) - self.frontend(target[:, None])).abs().mean()
        mrstft = multi_resolution_stft(predicted, target)
        loss = self.mel_weight * mel_l1 + self.stft_weight * mrstft
        return {"loss": loss, "mel_l1": mel_l1, "mrstft": mrstft}

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        samples = self._samples(batch)
        parts = self.losses(samples)
        for name, value in parts.items():
            self.log(f"train/{name}", value, prog_bar=name == "loss", batch_size=samples.shape[0])
        return parts["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        samples = self._samples(batch)
        for name, value in self.losses(samples).items():
            self.log(f"val/{name}", value, prog_bar=name == "mel_l1", batch_size=samples.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
