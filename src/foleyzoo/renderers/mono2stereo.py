"""Mono2Stereo: Kling-Foley's mono → stereo renderer, trained to place each source where it is on screen.

The model predicts a pan position for every time-frequency bin of the mono log-mel (see
:mod:`foleyzoo.renderers.network`) and renders the pair with the downmix-preserving constant-power pan
law of :mod:`foleyzoo.renderers.pan`, so the mean of its two channels is the mono input: it moves sound
between the channels and never adds or removes any. Training batches are clean stereo clips (a
:class:`~foleyzoo.synthfoley.datamodule.SynthFoleyDataModule` with ``channels: 2`` and
``clean: true``): the input is each clip's mono mix (L + R) / 2, the target the position of each bin
in the clip's own stereo mel, (2 / π) · atan(R / L), weighted by the bin's mono magnitude (silent bins
have no position).
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from foleyzoo.api import FrameFeatures, Mel, StereoRenderer, Video
from foleyzoo.api import VisualEncoder as VisualEncoderBase
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.encoders.visual.pan_grid import PanVisualEncoder
from foleyzoo.io.hparams import save_config_hyperparameters
from foleyzoo.renderers.checks import check_mono, check_tokens
from foleyzoo.renderers.network import PanNetwork
from foleyzoo.renderers.pan import apply_pan, pan_of_stereo
from foleyzoo.renderers.timing import mel_frame_times, nearest_frames

__all__ = ["Mono2Stereo"]


class Mono2Stereo(LightningModule, StereoRenderer):
    """Mono log-mel (B, 1, n_mels, T) + spatial visual tokens → stereo log-mel (B, 2, n_mels, T), pan per bin.

    ``visual_encoder`` turns frames into the tokens :meth:`render` reads (default: a
    :class:`~foleyzoo.encoders.visual.pan_grid.PanVisualEncoder` on ``grid``); its tokens must lie row-major on
    ``grid`` (rows, cols). Mel settings must match the mels rendered (the tiny codec's by default).
    ``crop_frames`` trains on random windows of that many mel frames (None: whole clips);
    ``weight_power`` raises the mono magnitude that weights each bin's loss.
    """

    api_version = "1.0"
    mel_log = "ln"
    """Pans natural-log mels (gains are added as natural logarithms); refused with a log10 codec."""

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 128,
        n_mels: int = 64,
        visual_encoder: VisualEncoderBase | None = None,
        grid: tuple[int, int] = (2, 16),
        channels: int = 16,
        query_dim: int = 32,
        blocks: int = 3,
        crop_frames: int | None = 96,
        weight_power: float = 1.0,
        mel_offset: float = -5.0,
        mel_scale: float = 2.5,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.mel_config = MelConfig(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
        )
        with torch.device("cpu"):  # the filterbank is computed from Python numbers, also under a meta device
            self.frontend = MelFrontend(self.mel_config)
        self.grid = (int(grid[0]), int(grid[1]))
        self.visual_encoder = (
            visual_encoder if visual_encoder is not None else PanVisualEncoder(grid=self.grid)
        )
        self.network = PanNetwork(
            n_mels, self.visual_encoder.embed_dim, self.grid, channels, query_dim, blocks
        )
        if crop_frames is not None and crop_frames < 1:
            raise ValueError(f"crop_frames must be >= 1 or None, got {crop_frames}")
        self.crop_frames, self.weight_power = crop_frames, weight_power
        self.mel_offset, self.mel_scale = mel_offset, mel_scale
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler

    # ------------------------------------------------------------------ rendering

    def encode_video(self, video: Video) -> FrameFeatures:
        """Frames (B, T, 3, H, W) at ``visual_encoder.fps`` → the features (with tokens) :meth:`render` reads."""
        return self.visual_encoder.encode(video)

    def positions(self, mono: Tensor, visual: FrameFeatures, start: int = 0) -> Tensor:
        """Mono log-mel values (B, 1, F, T) starting at mel frame ``start`` of the video → pan position (B, F, T)."""
        tokens = check_tokens(visual, mono.shape[0], self.grid, self.visual_encoder.embed_dim)
        times = mel_frame_times(mono.shape[-1], self.mel_config.frame_rate, start, device=mono.device)
        return self._positions(mono, tokens, nearest_frames(times, visual.fps, tokens.shape[1]))

    def _positions(self, mono: Tensor, tokens: Tensor, index: Tensor) -> Tensor:
        """Mono log-mel (B, 1, F, T), tokens (B, T_v, N, D) and the token frame of each mel frame → (B, F, T)."""
        return self.network((mono[:, 0] - self.mel_offset) / self.mel_scale, tokens, index)

    def render(self, mono: Mel, visual: FrameFeatures | None) -> Mel:
        """Mono mel → stereo mel; without visual features every bin stays centred (both channels = mono)."""
        check_mono(mono, self.mel_config.n_mels)
        if (
            mono.sample_rate != self.mel_config.sample_rate
            or abs(mono.frame_rate - self.mel_config.frame_rate) > 1e-6
        ):
            raise ValueError(
                f"the mel is {mono.sample_rate} Hz at {mono.frame_rate} frames/s; this renderer was built for "
                f"{self.mel_config.sample_rate} Hz at {self.mel_config.frame_rate} frames/s"
            )
        if visual is None:
            return Mel(mono.values.repeat(1, 2, 1, 1), mono.sample_rate, mono.frame_rate)
        position = self.positions(mono.values, visual)
        return Mel(apply_pan(mono.values, position), mono.sample_rate, mono.frame_rate)

    # ------------------------------------------------------------------ training

    def mels(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """A batch's clean stereo audio (B, 2, N) → (mono mix log-mel (B, 1, F, T), stereo log-mel (B, 2, F, T))."""
        samples = batch["audio"].samples
        if samples.shape[1] != 2:
            raise ValueError(
                f"Mono2Stereo trains on stereo audio (B, 2, N), got {tuple(samples.shape)}: set the data "
                "module's channels: 2"
            )
        return self.frontend(samples.mean(dim=1, keepdim=True)), self.frontend(samples)

    def losses(self, batch: dict[str, Any], crop: bool) -> dict[str, Tensor]:
        """Magnitude-weighted squared and absolute pan errors of the batch, and the centred baseline's."""
        mono, stereo = self.mels(batch)
        start = 0
        if crop and self.crop_frames is not None and mono.shape[-1] > self.crop_frames:
            start = int(torch.randint(0, mono.shape[-1] - self.crop_frames + 1, ()).item())
            mono = mono[..., start : start + self.crop_frames]
            stereo = stereo[..., start : start + self.crop_frames]
        video = batch["visual"]
        times = mel_frame_times(mono.shape[-1], self.mel_config.frame_rate, start, device=mono.device)
        index = nearest_frames(times, video.fps, video.frames.shape[1])
        first, last = int(index.min()), int(index.max()) + 1  # encode only the frames the window shows
        tokens = self.encode_video(Video(video.frames[:, first:last], video.fps)).tokens
        assert tokens is not None, "the visual encoder must return tokens"
        predicted = self._positions(mono, tokens, index - first)
        target = pan_of_stereo(stereo)
        weight = mono[:, 0].exp().pow(self.weight_power)
        weight = weight / weight.sum().clamp_min(1e-12)
        error = predicted - target
        return {
            "loss": (weight * error.pow(2)).sum(),
            "pan_mae": (weight * error.abs()).sum(),
            "centred_pan_mae": (weight * (target - 0.5).abs()).sum(),
        }

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        losses = self.losses(batch, crop=True)
        size = batch["audio"].samples.shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=size)
        self.log("train/pan_mae", losses["pan_mae"], batch_size=size)
        return losses["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        losses = self.losses(batch, crop=False)
        size = batch["audio"].samples.shape[0]
        self.log("val/loss", losses["loss"], batch_size=size)
        self.log("val/pan_mae", losses["pan_mae"], prog_bar=True, batch_size=size)
        self.log("val/centred_pan_mae", losses["centred_pan_mae"], batch_size=size)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "step"},
        }
