"""A 2-D text-conditioned flow-matching task: the smallest real ``foleyzoo fit`` (seconds on a CPU).

Each caption of SynthFoley's four sound classes owns one Gaussian blob in the plane. A velocity MLP
learns to carry noise to the blob its caption names, with a swappable text encoder and sampler and
classifier-free guidance — the same moving parts as the video-to-audio model, small enough to see
them work. Validation samples with the configured sampler and reports how many samples land in the
right blob (``val/class_accuracy``) and a sliced Wasserstein distance to the data (``val/swd``).
"""

from __future__ import annotations

import math

import torch
from jsonargparse import lazy_instance
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from foleyzoo.api import Sampler, TextEncoder
from foleyzoo.encoders.text.byte import ByteTextEncoder
from foleyzoo.io.hparams import save_config_hyperparameters
from foleyzoo.samplers.ode import EulerSampler
from foleyzoo.training.objective import (
    classifier_free_guidance,
    flow_matching_loss,
    interpolate,
    logit_normal_timesteps,
)

CAPTIONS = ("a bell", "a wooden knock", "a spring boing", "a glass clink")


def blob_centres(radius: float = 2.0) -> Tensor:
    """(K, 2) centres of the class blobs, evenly spaced on a circle."""
    angles = torch.arange(len(CAPTIONS)) * (2 * math.pi / len(CAPTIONS))
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


class GaussianMixtureDataset(Dataset):
    """``size`` points, each drawn from the blob of a random class; items are {"x": (2,), "caption": str}."""

    def __init__(self, size: int, seed: int, std: float = 0.3) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(len(CAPTIONS), (size,), generator=generator)
        self.points = blob_centres()[self.labels] + std * torch.randn(size, 2, generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, object]:
        return {"x": self.points[index], "caption": CAPTIONS[int(self.labels[index])]}


class GaussianMixtureDataModule(LightningDataModule):
    """Deterministic train/validation splits of the caption-conditioned Gaussian mixture."""

    def __init__(
        self, num_train: int = 4096, num_val: int = 512, batch_size: int = 128, seed: int = 0
    ) -> None:
        super().__init__()
        self.num_train, self.num_val, self.batch_size, self.seed = num_train, num_val, batch_size, seed

    def setup(self, stage: str | None = None) -> None:
        self.train_set = GaussianMixtureDataset(self.num_train, seed=self.seed)
        self.val_set = GaussianMixtureDataset(self.num_val, seed=self.seed + 1)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.num_val)


def timestep_features(t: Tensor, size: int = 16) -> Tensor:
    """(B,) times → (B, size) sinusoidal features."""
    freqs = torch.exp(torch.linspace(0.0, math.log(100.0), size // 2, device=t.device))
    angles = t[:, None] * freqs[None] * 2 * math.pi
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sliced_wasserstein(a: Tensor, b: Tensor, projections: int = 64, seed: int = 0) -> Tensor:
    """Sliced 1-Wasserstein distance between two equal-size point clouds (N, D)."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(a.shape[1], projections, generator=generator).to(a)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa, _ = torch.sort(a @ directions, dim=0)
    pb, _ = torch.sort(b @ directions, dim=0)
    return (pa - pb).abs().mean()


class ToyFlowMatching(LightningModule):
    """Caption-conditioned flow matching in 2-D with a swappable TextEncoder and Sampler."""

    def __init__(
        self,
        text_encoder: TextEncoder = lazy_instance(ByteTextEncoder, embed_dim=32),
        sampler: Sampler = lazy_instance(EulerSampler, steps=16),
        hidden: int = 128,
        cond_drop_prob: float = 0.1,
        cfg_scale: float = 1.0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.text_encoder = text_encoder
        self.sampler = sampler
        self.cond_drop_prob = cond_drop_prob
        self.cfg_scale = cfg_scale
        self.optimizer_factory = optimizer
        self.null_condition = nn.Parameter(torch.zeros(text_encoder.embed_dim))
        self.net = nn.Sequential(
            nn.Linear(2 + 16 + text_encoder.embed_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, 2),
        )

    def condition(self, captions: list[str], drop: Tensor | None = None) -> Tensor:
        """(B, D) pooled caption embeddings, with the learned null vector where ``drop`` is True."""
        pooled = self.text_encoder.encode(captions).pooled
        if drop is None:
            return pooled
        return torch.where(drop[:, None], self.null_condition.expand_as(pooled), pooled)

    def velocity(self, x: Tensor, t: Tensor, condition: Tensor) -> Tensor:
        return self.net(torch.cat([x, timestep_features(t), condition], dim=1))

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        data = batch["x"]
        noise = torch.randn_like(data)
        t = logit_normal_timesteps(data.shape[0], device=data.device)
        drop = torch.rand(data.shape[0], device=data.device) < self.cond_drop_prob
        predicted = self.velocity(interpolate(noise, data, t), t, self.condition(batch["caption"], drop))
        loss = flow_matching_loss(predicted, noise, data)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    @torch.no_grad()
    def generate(self, captions: list[str], generator: torch.Generator | None = None) -> Tensor:
        """(B, 2) samples for the captions, with classifier-free guidance in one batched forward."""
        conditional = self.condition(captions)
        unconditional = self.null_condition.expand_as(conditional)
        both = torch.cat([conditional, unconditional])

        def guided(x: Tensor, t: Tensor) -> Tensor:
            v_cond, v_uncond = self.velocity(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
            return classifier_free_guidance(v_cond, v_uncond, self.cfg_scale)

        noise = torch.randn(len(captions), 2, generator=generator).to(self.device)
        return self.sampler.sample(guided, noise)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        data = batch["x"]
        noise = torch.randn(data.shape, generator=torch.Generator().manual_seed(batch_idx)).to(data)
        t = torch.rand(data.shape[0], generator=torch.Generator().manual_seed(batch_idx + 1)).to(data)
        loss = flow_matching_loss(
            self.velocity(interpolate(noise, data, t), t, self.condition(batch["caption"])), noise, data
        )
        samples = self.generate(list(batch["caption"]), generator=torch.Generator().manual_seed(0))
        labels = torch.tensor([CAPTIONS.index(c) for c in batch["caption"]], device=data.device)
        nearest = torch.cdist(samples, blob_centres().to(samples)).argmin(dim=1)
        size = data.shape[0]
        self.log("val/loss", loss, prog_bar=True, batch_size=size)
        self.log("val/class_accuracy", (nearest == labels).float().mean(), prog_bar=True, batch_size=size)
        self.log("val/swd", sliced_wasserstein(samples, data), prog_bar=True, batch_size=size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
