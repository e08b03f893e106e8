"""Multi-scale mel discriminator: the adversarial critic of the mel-VAE-GAN codec (sharper mels than L1 alone).

Each scale is a small 2-D convolution stack over (mel band, frame) that sees the mel average-pooled in
time by 1, 2, 4, … and returns patch logits plus its intermediate feature maps, which the codec's
feature-matching loss compares between real and reconstructed mels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "MelDiscriminator",
    "MultiScaleMelDiscriminator",
    "discriminator_hinge_loss",
    "feature_matching_loss",
    "generator_hinge_loss",
]


class MelDiscriminator(nn.Module):
    """One scale: mel (B, 1, n_mels, T) → patch logits (B, 1, n_mels / 2**layers, T / 2**layers) and its feature maps."""

    def __init__(self, channels: int = 16, layers: int = 3) -> None:
        super().__init__()
        convs = [nn.Conv2d(1, channels, kernel_size=3, padding=1)]
        for _ in range(layers):
            convs.append(nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1))
        self.convs = nn.ModuleList(convs)
        self.head = nn.Conv2d(channels, 1, kernel_size=3, padding=1)

    def forward(self, mel: Tensor) -> tuple[Tensor, list[Tensor]]:
        features = []
        x = mel
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
            features.append(x)
        return self.head(x), features


class MultiScaleMelDiscriminator(nn.Module):
    """``scales`` discriminators, scale k seeing the mel average-pooled by 2**k frames in time."""

    def __init__(self, scales: int = 3, channels: int = 16, layers: int = 3) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(MelDiscriminator(channels, layers) for _ in range(scales))

    def forward(self, mel: Tensor) -> list[tuple[Tensor, list[Tensor]]]:
        """Mel (B, n_mels, T) or (B, 1, n_mels, T) → one (logits, features) pair per scale."""
        x = mel.unsqueeze(1) if mel.dim() == 3 else mel
        outputs = []
        for index, discriminator in enumerate(self.discriminators):
            if index:
                x = F.avg_pool2d(x, kernel_size=(1, 2), stride=(1, 2), ceil_mode=True)
            outputs.append(discriminator(x))
        return outputs


def discriminator_hinge_loss(
    real: list[tuple[Tensor, list[Tensor]]], fake: list[tuple[Tensor, list[Tensor]]]
) -> Tensor:
    """Hinge loss of the critic, averaged over scales: push real logits above 1 and fake below −1."""
    losses = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for (r, _), (f, _) in zip(real, fake, strict=True)]
    return torch.stack(losses).mean()


def generator_hinge_loss(fake: list[tuple[Tensor, list[Tensor]]]) -> Tensor:
    """Hinge loss of the generator, averaged over scales: raise the critic's logits on reconstructions."""
    return torch.stack([-f.mean() for f, _ in fake]).mean()


def feature_matching_loss(
    real: list[tuple[Tensor, list[Tensor]]], fake: list[tuple[Tensor, list[Tensor]]]
) -> Tensor:
    """Mean L1 between the critic's feature maps of real (detached) and reconstructed mels."""
    losses = [
        F.l1_loss(f_feat, r_feat.detach())
        for (_, r_feats), (_, f_feats) in zip(real, fake, strict=True)
        for r_feat, f_feat in zip(r_feats, f_feats, strict=True)
    ]
    return torch.stack(losses).mean()
