"""ValidationMetrics: generate audio for a few validation batches during training and log chosen metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from foleyzoo.api import Embedder, Waveform
from foleyzoo.errors import ConfigError
from foleyzoo.metrics.classifier import KLDivergence
from foleyzoo.metrics.desync import DeSync
from foleyzoo.metrics.frechet import FrechetAudioVisualDistance, FrechetDistance
from foleyzoo.metrics.similarity import AVAlignment
from foleyzoo.synthfoley.evaluation import SynthFoleyScores

__all__ = ["METRIC_NAMES", "ValidationMetrics"]

METRIC_NAMES = ("fd", "favd", "kl", "av_alignment", "desync", "synthfoley")
"""What :class:`ValidationMetrics` can log (the Inception Score needs more clips than a validation check has)."""


class ValidationMetrics(Callback):
    """Every ``every_n_epochs`` validation, scores audio the module generates for ``max_batches`` val batches.

    The module must have ``generate_audio(batch, seed=...)`` returning a :class:`~foleyzoo.api.Waveform`
    or ``(mel, waveform)`` (as :class:`~foleyzoo.training.flow_matching.FoleyFlowMatching` does). Each batch's
    ``audio`` is the reference; ``visual`` frames feed ``video_embedder`` and ``sync`` frames (else
    ``visual``) the ``sync_model``; SynthFoley batches carry the ground truth in ``meta``. Metrics, one of
    :data:`METRIC_NAMES` each, are logged as ``<prefix><name>`` (``fd``, ``favd``, ``kl``, ``av_alignment``,
    ``desync``, ``synthfoley_f1`` …) to the trainer's loggers (TensorBoard's scalars). Generation uses
    seed ``seed + batch index``, so every check scores the same noise.
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("fd",),
        audio_embedder: Embedder | None = None,
        video_embedder: Embedder | None = None,
        sync_model: torch.nn.Module | None = None,
        max_batches: int = 2,
        every_n_epochs: int = 1,
        seed: int = 0,
        prefix: str = "val_metrics/",
    ) -> None:
        super().__init__()
        unknown = sorted(set(metrics) - set(METRIC_NAMES))
        if unknown:
            raise ConfigError(
                f"ValidationMetrics: unknown metrics {unknown}; choose from {list(METRIC_NAMES)}"
            )
        needs = {
            "fd": ("audio_embedder", audio_embedder is not None),
            "kl": ("audio_embedder", audio_embedder is not None),
            "favd": (
                "audio_embedder and video_embedder",
                audio_embedder is not None and video_embedder is not None,
            ),
            "av_alignment": (
                "audio_embedder and video_embedder",
                audio_embedder is not None and video_embedder is not None,
            ),
            "desync": ("sync_model", sync_model is not None),
        }
        for name in metrics:
            if name in needs and not needs[name][1]:
                raise ConfigError(f"ValidationMetrics: metric {name!r} needs {needs[name][0]}")
        if every_n_epochs < 1 or max_batches < 1:
            raise ConfigError("ValidationMetrics: every_n_epochs and max_batches must be >= 1")
        self.metrics = tuple(metrics)
        self.audio_embedder, self.video_embedder, self.sync_model = audio_embedder, video_embedder, sync_model
        self.max_batches, self.every_n_epochs, self.seed, self.prefix = (
            max_batches,
            every_n_epochs,
            seed,
            prefix,
        )

    def _due(self, trainer: Trainer) -> bool:
        return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._due(trainer):
            return
        loaders = trainer.val_dataloaders
        loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
        if loader is None:
            return
        values = self.evaluate(pl_module, loader)
        for logger in trainer.loggers:
            logger.log_metrics(
                {self.prefix + key: value for key, value in values.items()}, step=trainer.global_step
            )
        for key, value in values.items():
            trainer.callback_metrics[self.prefix + key] = torch.tensor(value)

    @torch.no_grad()
    def evaluate(self, pl_module: LightningModule, loader: Any) -> dict[str, float]:
        """Generate for up to ``max_batches`` batches of ``loader`` and compute the chosen metrics."""
        was_training = pl_module.training
        pl_module.eval()
        fd, kl, alignment, desync = FrechetDistance(), KLDivergence(), AVAlignment(), DeSync()
        favd, synthfoley = FrechetAudioVisualDistance(), SynthFoleyScores()
        try:
            for index, batch in enumerate(loader):
                if index >= self.max_batches:
                    break
                batch = pl_module.transfer_batch_to_device(batch, pl_module.device, 0)
                generated = pl_module.generate_audio(batch, seed=self.seed + index)
                if isinstance(generated, tuple):
                    generated = generated[-1]
                self._update(batch, generated, fd, kl, alignment, desync, synthfoley)
                if "favd" in self.metrics:
                    self._update_favd(batch, generated, favd)
        finally:
            pl_module.train(was_training)
        results: dict[str, float] = {}
        if "fd" in self.metrics:
            results["fd"] = float(fd.compute())
        if "favd" in self.metrics:
            results["favd"] = float(favd.compute())
        if "kl" in self.metrics:
            results["kl"] = float(kl.compute())
        if "av_alignment" in self.metrics:
            results["av_alignment"] = float(alignment.compute())
        if "desync" in self.metrics:
            results["desync"] = float(desync.compute())
        if "synthfoley" in self.metrics:
            summary = synthfoley.compute()
            for key in ("f1", "median_offset_ms", "class_accuracy", "pan_error"):
                results[f"synthfoley_{key}"] = summary[key]
        return results

    def _update(self, batch: dict, generated: Waveform, fd, kl, alignment, desync, synthfoley) -> None:
        audio_metrics = {"fd", "kl", "av_alignment"} & set(self.metrics)
        if audio_metrics:
            assert self.audio_embedder is not None
            fake = self.audio_embedder.embed(generated)
            if {"fd", "kl"} & audio_metrics:
                real = self.audio_embedder.embed(batch["audio"])
                fd.update(generated=fake.values, reference=real.values)
                if "kl" in audio_metrics:
                    if fake.logits is None or real.logits is None:
                        raise ConfigError(
                            "ValidationMetrics: metric 'kl' needs an audio embedder with logits"
                        )
                    kl.update(fake.logits, real.logits)
            if "av_alignment" in audio_metrics:
                assert self.video_embedder is not None
                alignment.update(fake.values, self.video_embedder.embed(batch["visual"]).values)
        if "desync" in self.metrics:
            frames = batch["sync"] if batch.get("sync") is not None else batch["visual"]
            desync.update(self.sync_model.predict_offsets(frames, generated))  # type: ignore[union-attr]
        if "synthfoley" in self.metrics:
            if "meta" not in batch:
                raise ConfigError(
                    "ValidationMetrics: metric 'synthfoley' needs SynthFoley batches (with 'meta')"
                )
            synthfoley.update(generated, batch["meta"], stems=batch.get("ids"))

    def _update_favd(self, batch: dict, generated: Waveform, favd: FrechetAudioVisualDistance) -> None:
        """Joint (audio ‖ video) embeddings of the generated and the batch's own audio, both with its ``visual`` frames."""
        assert self.audio_embedder is not None and self.video_embedder is not None
        video = self.video_embedder.embed(batch["visual"]).values
        favd.update(
            generated=self.audio_embedder.embed(generated).values,
            reference=self.audio_embedder.embed(batch["audio"]).values,
            video=video,
        )
