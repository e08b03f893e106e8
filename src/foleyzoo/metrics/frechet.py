"""Fréchet distances between two sets of embeddings: the FD/FAD of av-benchmark, for any embedder, and its
audio-visual form over joint (audio, video) embeddings, which also sees whether each sound belongs to its video."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = [
    "AVBENCH_FD_FAILED",
    "FrechetAudioVisualDistance",
    "FrechetDistance",
    "avbench_frechet_distance",
    "frechet_distance",
    "gaussian_statistics",
    "joint_embeddings",
    "psd_sqrt",
    "trace_sqrt_product",
]


def psd_sqrt(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, by eigen-decomposition.

    Negative eigenvalues (round-off of a singular matrix) are clamped to 0, so the result is always real.
    """
    matrix = 0.5 * (matrix + matrix.T)
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def trace_sqrt_product(sigma_1: Tensor, sigma_2: Tensor) -> Tensor:
    """tr √(Σ₁ Σ₂) for PSD Σ₁, Σ₂, as tr √(√Σ₁ Σ₂ √Σ₁): a symmetric PSD product, so eigenvalues are real.

    Σ₁ Σ₂ is similar to √Σ₁ Σ₂ √Σ₁, so both have the same (non-negative) eigenvalues; unlike a general
    matrix square root (``scipy.linalg.sqrtm``) this never returns complex parts for singular covariances.
    """
    root = psd_sqrt(sigma_1)
    product = root @ sigma_2 @ root
    return torch.linalg.eigvalsh(0.5 * (product + product.T)).clamp_min(0).sqrt().sum()


def frechet_distance(mu_1: Tensor, sigma_1: Tensor, mu_2: Tensor, sigma_2: Tensor) -> Tensor:
    """‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 √(Σ₁ Σ₂)) in float64 (≥ 0): the squared 2-Wasserstein distance of two Gaussians."""
    mu_1, mu_2, sigma_1, sigma_2 = (x.double() for x in (mu_1, mu_2, sigma_1, sigma_2))
    mean_term = (mu_1 - mu_2).square().sum()
    distance = mean_term + sigma_1.trace() + sigma_2.trace() - 2 * trace_sqrt_product(sigma_1, sigma_2)
    return distance.clamp_min(0.0)  # a distance: round-off must not make it negative


AVBENCH_FD_FAILED = -1.0
"""What av-benchmark reports for an FD whose matrix square root keeps a large imaginary part."""


def avbench_frechet_distance(generated: np.ndarray, reference: np.ndarray, eps: float = 1e-6) -> float:
    """av-benchmark's FD (audioldm_eval's, after pytorch-fid) of (N, D) embeddings, in its own arithmetic.

    Means in the embeddings' own dtype (``numpy.mean``), unbiased covariances (``numpy.cov``), and
    tr √(Σ₁Σ₂) from ``scipy.linalg.sqrtm`` of the product; when that is not finite, ``eps`` is added to
    both diagonals and the root taken again; a negligible imaginary part (diagonal within 1e-3) is
    dropped, a larger one gives :data:`AVBENCH_FD_FAILED` (-1), as there. With fewer clips than
    dimensions the covariances are singular and this differs from :func:`frechet_distance`'s real-valued
    route; it is what papers print.
    """
    from scipy import linalg

    mu_1, mu_2 = np.mean(generated, axis=0), np.mean(reference, axis=0)
    sigma_1, sigma_2 = np.cov(generated, rowvar=False), np.cov(reference, rowvar=False)
    mu_1, mu_2 = np.atleast_1d(mu_1), np.atleast_1d(mu_2)
    sigma_1, sigma_2 = np.atleast_2d(sigma_1), np.atleast_2d(sigma_2)
    diff = mu_1 - mu_2
    covmean = linalg.sqrtm(sigma_1.dot(sigma_2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma_1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma_1 + offset).dot(sigma_2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            return AVBENCH_FD_FAILED
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma_1) + np.trace(sigma_2) - 2 * np.trace(covmean))


def gaussian_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D) in float64, as ``numpy.cov`` computes it."""
    features = features.double()
    if features.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 embeddings, got {features.shape[0]}")
    mean = features.mean(dim=0)
    centred = features - mean
    return mean, centred.T @ centred / (features.shape[0] - 1)


class FrechetDistance(Metric):
    """FD between generated and reference embeddings (lower is better; 0 for identical distributions).

    ``update(generated=..., reference=...)`` takes (N, D) embeddings, or (B, K, D) which count as B·K
    embeddings (VGGish gives one embedding per 0.96 s; av-benchmark pools them all). The two sets need
    not be paired or of the same size. Statistics are computed in float64 with the unbiased covariance,
    as av-benchmark's ``compute_fd`` does.
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("generated", default=[], dist_reduce_fx="cat")
        self.add_state("reference", default=[], dist_reduce_fx="cat")

    def update(self, generated: Tensor | None = None, reference: Tensor | None = None) -> None:
        for name, features in (("generated", generated), ("reference", reference)):
            if features is None:
                continue
            if features.dim() == 3:
                features = features.flatten(0, 1)
            if features.dim() != 2:
                raise ValueError(
                    f"{name} embeddings must be (N, D) or (B, K, D), got {tuple(features.shape)}"
                )
            getattr(self, name).append(features.detach().double())

    def compute(self) -> Tensor:
        if not self.generated or not self.reference:
            raise ValueError("FrechetDistance needs generated and reference embeddings before compute()")
        generated, reference = dim_zero_cat(self.generated), dim_zero_cat(self.reference)
        if generated.shape[1] != reference.shape[1]:
            raise ValueError(
                f"generated embeddings have {generated.shape[1]} dimensions, reference ones {reference.shape[1]}"
            )
        return frechet_distance(*gaussian_statistics(generated), *gaussian_statistics(reference))


def joint_embeddings(audio: Tensor, video: Tensor, name: str = "audio") -> Tensor:
    """Row-paired (N, Da) audio and (N, Dv) video embeddings → (N, Da + Dv): one joint vector per clip.

    Row i of both must be the same clip; the counts are checked because a silent broadcast or a cut
    would pair sounds with the wrong videos, the very thing the joint embedding exists to see.
    """
    if audio.dim() != 2 or video.dim() != 2:
        raise ValueError(
            f"FrechetAudioVisualDistance needs one (N, D) embedding per clip, got {name} "
            f"{tuple(audio.shape)} and video {tuple(video.shape)}"
        )
    if audio.shape[0] != video.shape[0]:
        raise ValueError(
            f"FrechetAudioVisualDistance: {audio.shape[0]} {name} embeddings but {video.shape[0]} video "
            "embeddings; row i of each must be the same clip"
        )
    return torch.cat([audio.detach().double(), video.detach().to(audio.device).double()], dim=1)


class FrechetAudioVisualDistance(FrechetDistance):
    """FD over each clip's joint embedding, its audio embedding concatenated with its own video's (lower is better).

    The Fréchet audio-visual distance of the video-to-audio literature. Audio-only FD compares the sound
    distributions alone, so giving every video another clip's sound leaves it unchanged; the joint
    Gaussian also carries the audio-video cross-covariance, which a wrong pairing breaks.

    ``update(generated=..., reference=..., video=...)``: ``video`` (N, Dv) holds the embeddings of the
    clips' videos, row i the video of row i of each audio set given in the same call (both sets, when the
    generated clips are paired with reference clips of the same videos, as ``foleyzoo eval`` pairs them).
    """

    def update(
        self, generated: Tensor | None = None, reference: Tensor | None = None, video: Tensor | None = None
    ) -> None:
        """Add clips: audio (N, Da) of either set with the (N, Dv) embeddings of those clips' videos."""
        if video is None:
            raise ValueError(
                "FrechetAudioVisualDistance needs the video embeddings of the clips (video=...); "
                "without them use the audio-only FrechetDistance"
            )
        super().update(
            generated=None if generated is None else joint_embeddings(generated, video, "generated"),
            reference=None if reference is None else joint_embeddings(reference, video, "reference"),
        )
