"""ValidationMetrics: a tiny module's generated audio is scored during validation and logged to TensorBoard."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.errors import ConfigError
from foleyzoo.metrics.callback import ValidationMetrics

RATE = 8000


class SpectrumEmbedder(Embedder):
    """Audio → its log band energies (a fixed, deterministic embedder) and those as logits."""

    modality = "audio"

    def embed(self, inputs):
        power = torch.fft.rfft(inputs.samples.mean(1)).abs().square()
        bands = torch.stack([chunk.sum(-1) for chunk in power.chunk(8, dim=-1)], dim=-1)
        values = torch.log(bands + 1e-6)
        return Embedding(values=values, logits=values)


class NoisyCopy(LightningModule):
    """'Generates' the batch's own audio plus noise of a set level: more noise, a worse model."""

    def __init__(self, noise: float) -> None:
        super().__init__()
        self.noise = noise
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        return (self.weight**2).sum() + 0 * batch["audio"].samples.sum()

    def validation_step(self, batch, batch_idx):
        pass

    def generate_audio(self, batch, seed=0):
        generator = torch.Generator().manual_seed(seed)
        samples = batch["audio"].samples
        return None, Waveform(samples + self.noise * torch.randn(samples.shape, generator=generator), RATE)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Tones(LightningDataModule):
    def _loader(self, seed):
        generator = torch.Generator().manual_seed(seed)
        t = torch.arange(RATE // 2) / RATE
        items = []
        for _ in range(16):
            frequency = float(torch.randint(100, 3500, (1,), generator=generator))
            items.append(torch.sin(2 * torch.pi * frequency * t)[None] * 0.5)

        def collate(rows):
            return {"audio": Waveform(torch.stack(rows), RATE)}

        return DataLoader(items, batch_size=8, collate_fn=collate)

    def train_dataloader(self):
        return self._loader(0)

    def val_dataloader(self):
        return self._loader(1)


def fit(noise: float, folder) -> tuple[dict, Trainer]:
    logger = TensorBoardLogger(str(folder), name="tb")
    callback = ValidationMetrics(metrics=("fd", "kl"), audio_embedder=SpectrumEmbedder(), max_batches=2)
    trainer = Trainer(
        max_epochs=2,
        logger=logger,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=1,
    )
    trainer.fit(NoisyCopy(noise), datamodule=Tones())
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}, trainer


def test_metrics_are_logged_every_validation_and_rank_models(tmp_path):
    good, trainer = fit(0.01, tmp_path / "good")
    bad, _ = fit(0.3, tmp_path / "bad")
    assert (
        len(good["val_metrics/fd"]) == 2 and len(good["val_metrics/kl"]) == 2
    )  # two epochs, not the sanity check
    assert good["val_metrics/fd"][0] == pytest.approx(
        good["val_metrics/fd"][1]
    )  # fixed seeds: the same score
    assert good["val_metrics/fd"][0] < bad["val_metrics/fd"][0]
    assert good["val_metrics/kl"][0] < bad["val_metrics/kl"][0]
    assert float(trainer.callback_metrics["val_metrics/fd"]) == pytest.approx(
        good["val_metrics/fd"][-1], rel=1e-5
    )


def test_metrics_without_their_networks_are_refused():
    with pytest.raises(ConfigError, match="needs audio_embedder"):
        ValidationMetrics(metrics=("fd",))
    with pytest.raises(ConfigError, match="needs sync_model"):
        ValidationMetrics(metrics=("desync",), audio_embedder=SpectrumEmbedder())
    with pytest.raises(ConfigError, match="unknown metrics"):
        ValidationMetrics(metrics=("fad",), audio_embedder=SpectrumEmbedder())


class Brightness(Embedder):
    """Video → its mean brightness and two functions of it (a fixed, deterministic embedder)."""

    modality = "video"

    def embed(self, inputs):
        level = inputs.frames.mean(dim=(1, 2, 3, 4))
        return Embedding(values=torch.stack([level, level.square(), level.sqrt()], dim=-1))


class Shuffler(NoisyCopy):
    """'Generates' the batch's own audio, or with ``shift`` each clip a neighbour's sound (the same set of sounds)."""

    def __init__(self, shift: int) -> None:
        super().__init__(noise=0.0)
        self.shift = shift

    def generate_audio(self, batch, seed=0):
        return Waveform(torch.roll(batch["audio"].samples, self.shift, dims=0), RATE)


def tone_videos() -> DataLoader:
    """16 tones, each with a video whose brightness tells its pitch: sound and picture belong together."""
    t = torch.arange(RATE // 2) / RATE
    frequencies = torch.linspace(200, 3000, 16)
    items = [
        (torch.sin(2 * torch.pi * f * t)[None] * 0.5, torch.full((2, 3, 4, 4), float(f) / 4000))
        for f in frequencies
    ]

    def collate(rows):
        return {
            "audio": Waveform(torch.stack([a for a, _ in rows]), RATE),
            "visual": Video(torch.stack([v for _, v in rows]), 8.0),
        }

    return DataLoader(items, batch_size=8, collate_fn=collate)


def test_favd_scores_the_pairing_that_fd_cannot_see():
    callback = ValidationMetrics(
        metrics=("fd", "favd"), audio_embedder=SpectrumEmbedder(), video_embedder=Brightness(), max_batches=2
    )
    right = callback.evaluate(Shuffler(0), tone_videos())
    wrong = callback.evaluate(Shuffler(1), tone_videos())
    assert right["fd"] < 1e-9 and wrong["fd"] < 1e-9  # the same 16 sounds either way
    assert right["favd"] < 1e-6 < 0.01 < wrong["favd"], (right, wrong)  # measured ~1e-8 (round-off) and 0.036
    with pytest.raises(ConfigError, match="'favd' needs audio_embedder and video_embedder"):
        ValidationMetrics(metrics=("favd",), audio_embedder=SpectrumEmbedder())
