"""FoleyFlowMatching: the video-to-audio LightningModule — a denoiser trained by flow matching on codec latents.

The codec and the encoders are frozen (or their features come from a feature cache); only the denoiser
learns. Training draws logit-normal flow times, drops each condition independently for classifier-free
guidance and keeps an EMA copy of the denoiser for sampling. ``use_text``, ``use_visual`` and
``use_sync`` switch a condition off entirely: the paper's ablations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from foleyzoo.api import (
    AudioCodec,
    Conditions,
    Denoiser,
    Latents,
    Mel,
    Sampler,
    SyncEncoder,
    TextEncoder,
    VisualEncoder,
    Vocoder,
    Waveform,
)
from foleyzoo.data.clips import ClipFormat
from foleyzoo.errors import ConfigError
from foleyzoo.io.from_checkpoint import store_architectures
from foleyzoo.io.hparams import save_config_hyperparameters
from foleyzoo.samplers import EulerSampler
from foleyzoo.samplers.guidance import CONDITION_NAMES, guided_velocity
from foleyzoo.training.conditioning import FeatureMemo, drop_conditions, encode_conditions, encode_latents
from foleyzoo.training.objective import (
    flow_matching_loss,
    interpolate,
    logit_normal_timesteps,
    onset_weights,
)
from foleyzoo.vocoders.base import vocode_to_length

__all__ = ["FoleyFlowMatching", "ema_multi_with_warmup", "ema_with_warmup"]


def ema_with_warmup(decay: float) -> Callable[[Tensor, Tensor, Tensor | int], Tensor]:
    """An EMA update for ``AveragedModel`` whose decay grows as min(decay, (1 + n) / (10 + n)) over updates n.

    Without the warm-up the average keeps the untrained start for about 1 / (1 − decay) steps, longer
    than a short run.
    """

    def average(averaged: Tensor, current: Tensor, updates: Tensor | int) -> Tensor:
        rate = warmed_up_decay(decay, updates)
        return averaged * rate + current * (1.0 - rate)

    return average


def ema_multi_with_warmup(decay: float) -> Callable[[list[Tensor], list[Tensor], Tensor | int], None]:
    """:func:`ema_with_warmup` for ``AveragedModel(multi_avg_fn=...)``: every tensor in one foreach lerp.

    The same average, but one multi-tensor kernel and one read of the update count a step instead of
    two kernels and a read per parameter.
    """

    def average(averaged: list[Tensor], current: list[Tensor], updates: Tensor | int) -> None:
        weight = 1.0 - warmed_up_decay(decay, updates)
        floating = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floating:
            torch._foreach_lerp_([a for a, _ in floating], [c for _, c in floating], weight)
        for kept, value in zip(averaged, current, strict=True):
            if not kept.is_floating_point():  # integer buffers (counters) are copied, not averaged
                kept.copy_(value)

    return average


def warmed_up_decay(decay: float, updates: Tensor | int) -> float:
    """min(decay, (1 + n) / (10 + n)) after n updates: the EMA's decay during its warm-up."""
    n = float(updates)
    return min(decay, (1.0 + n) / (10.0 + n))


class FoleyFlowMatching(LightningModule):
    """Flow matching x_t = t·x1 + (1 − t)·x0 on codec latents, conditioned on text, visual and sync features.

    ``vocoder`` turns generated mels into audio for TensorBoard and :meth:`generate_audio`; leave it out to
    train without audio logging. ``cfg_scale``/``text_cfg_scale`` and ``sampler`` set how validation and
    :meth:`generate` sample. ``memoize_features`` keeps the frozen parts' outputs per clip id in memory
    (for data without random crops, such as in-memory SynthFoley): epochs after the first skip the encoders.
    """

    def __init__(
        self,
        denoiser: Denoiser,
        codec: AudioCodec,
        text_encoder: TextEncoder | None = None,
        visual_encoder: VisualEncoder | None = None,
        sync_encoder: SyncEncoder | None = None,
        vocoder: Vocoder | None = None,
        sampler: Sampler | None = None,
        use_text: bool = True,
        use_visual: bool = True,
        use_sync: bool = True,
        condition_dropout: float = 0.1,
        cfg_scale: float = 4.5,
        text_cfg_scale: float | None = None,
        timestep_mean: float = 0.0,
        timestep_std: float = 1.0,
        onset_weight: float = 0.0,
        ema_decay: float | None = 0.999,
        val_audio_clips: int = 2,
        memoize_features: bool = False,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        if not 0.0 <= condition_dropout < 1.0:
            raise ValueError(f"condition_dropout must be in [0, 1), got {condition_dropout}")
        self.denoiser = denoiser
        self.codec = codec
        self.text_encoder = text_encoder
        self.visual_encoder = visual_encoder
        self.sync_encoder = sync_encoder
        self.vocoder = vocoder
        for frozen in self.frozen_parts():
            frozen.requires_grad_(False)
        self.sampler = sampler if sampler is not None else EulerSampler(steps=25)
        switches = {"text": use_text, "visual": use_visual, "sync": use_sync}
        self.enabled = tuple(name for name in CONDITION_NAMES if switches[name])
        self.condition_dropout = condition_dropout
        self.cfg_scale = cfg_scale
        self.text_cfg_scale = text_cfg_scale
        self.timestep_mean = timestep_mean
        self.timestep_std = timestep_std
        if onset_weight < 0:
            raise ValueError(f"onset_weight must be >= 0, got {onset_weight}")
        self.onset_weight = onset_weight
        self.val_audio_clips = val_audio_clips
        self.memo = FeatureMemo() if memoize_features else None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.ema: AveragedModel | None = None
        if ema_decay is not None:
            self.ema = AveragedModel(
                denoiser, multi_avg_fn=ema_multi_with_warmup(ema_decay), use_buffers=True
            )
            self.ema.requires_grad_(False)
        self._check_rates()

    def configure_model(self) -> None:
        """Under Lightning's ``ModelParallelStrategy``, shard the denoiser (and its EMA copy) block by block
        over the data-parallel ranks with FSDP2; the frozen encoders stay whole on every rank."""
        mesh = self.device_mesh
        if mesh is None:
            return
        from foleyzoo.training.distributed import shard_blocks

        data_parallel = (
            mesh["data_parallel"] if mesh.mesh_dim_names and "data_parallel" in mesh.mesh_dim_names else mesh
        )
        shard_blocks(self.denoiser, data_parallel)
        if self.ema is not None:
            shard_blocks(self.ema.module, data_parallel)

    def _check_rates(self) -> None:
        """The denoiser's declared frame rates must be the codec's and encoders' (RoPE shares one time axis)."""
        checks = [("latent_rate", self.codec.latent_rate, "codec")]
        if self.visual_encoder is not None:
            checks.append(("visual_rate", self.visual_encoder.fps, "visual encoder"))
        for attribute, rate, what in checks:
            declared = getattr(self.denoiser, attribute, None)
            if declared is not None and abs(float(declared) - float(rate)) > 1e-3:
                raise ConfigError(
                    f"the denoiser's {attribute} is {declared} but the {what} runs at {rate}; set "
                    f"denoiser.init_args.{attribute}: {rate}"
                )

    # ------------------------------------------------------------------ frozen parts stay in eval mode

    def train(self, mode: bool = True) -> FoleyFlowMatching:
        super().train(mode)
        for frozen in self.frozen_parts():
            frozen.eval()
        return self

    def frozen_parts(self) -> list[nn.Module]:
        """The codec, encoders and vocoder that are present: never trained, always in eval mode."""
        parts = (self.codec, self.text_encoder, self.visual_encoder, self.sync_encoder, self.vocoder)
        return [part for part in parts if part is not None]

    # ------------------------------------------------------------------ training

    def prepare(self, batch: dict[str, Any]) -> tuple[Latents, Conditions]:
        """The batch's latents and conditions (enabled modalities only), from memory where memoised."""
        split, ids = ("train" if self.training else "val"), list(batch.get("ids") or [])
        if self.memo is not None and ids:
            recalled = self.memo.recall(split, ids)
            if recalled is not None:
                return recalled
        latents = encode_latents(batch, self.codec)
        conditions = encode_conditions(
            batch, self.text_encoder, self.visual_encoder, self.sync_encoder, self.enabled
        )
        if self.memo is not None and ids:
            self.memo.remember(split, ids, latents, conditions)
        return latents, conditions

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        latents, conditions = self.prepare(batch)
        data = latents.values
        noise = torch.randn_like(data)
        t = logit_normal_timesteps(data.shape[0], self.timestep_mean, self.timestep_std, device=data.device)
        dropped = drop_conditions(conditions, self.condition_dropout)
        predicted = self.denoiser(interpolate(noise, data, t), t, dropped, latents.mask)
        weights = onset_weights(data, self.onset_weight, latents.mask) if self.onset_weight > 0 else None
        loss = flow_matching_loss(predicted.float(), noise, data, latents.mask, weights)
        self.log("train/loss", loss, prog_bar=True, batch_size=data.shape[0])
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.denoiser)

    def sampling_denoiser(self) -> Denoiser:
        """The EMA copy of the denoiser where there is one (what validation and generation use)."""
        return self.ema.module if self.ema is not None else self.denoiser  # type: ignore[return-value]

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(
        self,
        conditions: Conditions,
        frames: int,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
        sampler: Sampler | None = None,
        cfg_scale: float | None = None,
        text_cfg_scale: float | None = None,
    ) -> Latents:
        """Sample latents (B, frames, C) for the conditions, integrating the guided flow from noise."""
        batch = _batch_size(conditions)
        denoiser = self.sampling_denoiser()
        noise = torch.randn(batch, frames, self.codec.latent_dim, generator=generator).to(self.device)

        def net(x: Tensor, t: Tensor, given: Conditions) -> Tensor:
            return denoiser(x, t, given, mask).float()

        def prepare(given: Conditions, x: Tensor) -> Conditions:
            return denoiser.prepare(given, x, mask)

        velocity = guided_velocity(
            net,
            conditions,
            self.cfg_scale if cfg_scale is None else cfg_scale,
            self.text_cfg_scale if text_cfg_scale is None else text_cfg_scale,
            prepare=prepare,
        )
        values = (sampler or self.sampler).sample(velocity, noise)
        return Latents(values=values, frame_rate=self.codec.latent_rate, mask=mask)

    @torch.no_grad()
    def generate_audio(self, batch: dict[str, Any], seed: int = 0, **options: Any) -> tuple[Mel, Waveform]:
        """Mel and waveform generated for a batch, the waveform as long as the batch's longest clip."""
        if self.vocoder is None:
            raise ConfigError("generating audio needs a vocoder: set model.init_args.vocoder")
        conditions = encode_conditions(
            batch, self.text_encoder, self.visual_encoder, self.sync_encoder, self.enabled
        )
        frames, mask = _frames_for(batch, self.codec)
        generator = torch.Generator().manual_seed(seed)
        latents = self.generate(conditions, frames, mask=mask, generator=generator, **options)
        mel = self.codec.decode(latents)
        length = round(float(batch["duration"][:, 1].max()) * self.vocoder.sample_rate)
        return mel, vocode_to_length(self.vocoder, mel, length)

    # ------------------------------------------------------------------ validation

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        latents, conditions = self.prepare(batch)
        data = latents.values
        generator = torch.Generator().manual_seed(1000 + batch_idx)
        noise = torch.randn(data.shape, generator=generator).to(data)
        t = torch.rand(data.shape[0], generator=generator).to(data)
        predicted = self.sampling_denoiser()(interpolate(noise, data, t), t, conditions, latents.mask)
        loss = flow_matching_loss(predicted.float(), noise, data, latents.mask)
        self.log("val/loss", loss, prog_bar=True, batch_size=data.shape[0])
        if batch_idx == 0 and self.vocoder is not None and self.val_audio_clips > 0:
            from foleyzoo.training.media_logging import log_generated_audio

            clips = {key: _head(value, self.val_audio_clips) for key, value in batch.items()}
            mel, audio = self.generate_audio(clips)
            reference = self.codec.decode(_head(latents, self.val_audio_clips))
            log_generated_audio(self, mel, audio, reference)

    # ------------------------------------------------------------------ checkpoints

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the frozen parts' architectures, so the checkpoint loads without the earlier stages' files."""
        if isinstance(checkpoint.get("hyper_parameters"), dict):
            store_architectures(checkpoint["hyper_parameters"], self)
        data_format = self._training_data_format()
        if data_format is not None:
            checkpoint["data_format"] = data_format

    def _training_data_format(self) -> dict[str, Any] | None:
        """How the training data sampled each modality, and its window in seconds (what inference must match)."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        fmt = getattr(datamodule, "fmt", None)
        if not isinstance(fmt, ClipFormat):
            return None
        window = getattr(datamodule, "clip_duration", None) or getattr(datamodule, "crop_duration", None)
        described = {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(fmt).items()
        }
        return {**described, "window": None if window is None else float(window)}

    # ------------------------------------------------------------------ optimisation

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.denoiser.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _batch_size(conditions: Conditions) -> int:
    for features in (conditions.visual, conditions.sync):
        if features is not None:
            return features.values.shape[0]
    if conditions.text is not None:
        return conditions.text.tokens.shape[0]
    if conditions.duration is not None:
        return conditions.duration.shape[0]
    raise ValueError("cannot tell the batch size: the conditions hold no features and no duration")


def _frames_for(batch: dict[str, Any], codec: AudioCodec) -> tuple[int, Tensor | None]:
    """Latent frames to generate for a batch (its longest clip, as many as the codec encodes for it)
    and a mask for shorter ones."""
    lengths = batch["duration"][:, 1]
    counts = [codec.latent_frames_for(float(seconds)) for seconds in lengths.tolist()]
    frames = torch.tensor(counts, dtype=torch.long, device=lengths.device)
    longest = int(frames.max())
    if bool((frames == longest).all()):
        return longest, None
    return longest, torch.arange(longest)[None, :].to(frames.device) < frames[:, None]


def _head(value: Any, count: int) -> Any:
    """The first ``count`` rows of a batch entry (tensors, records with tensor fields, lists)."""
    if isinstance(value, Tensor):
        return value[:count]
    if isinstance(value, list):
        return value[:count]
    if hasattr(value, "__dataclass_fields__"):
        fields = {
            name: _head(getattr(value, name), count)
            for name in value.__dataclass_fields__
            if isinstance(getattr(value, name), Tensor)
        }
        return replace(value, **fields)
    return value
