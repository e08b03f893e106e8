"""KL divergence and Inception Score over an audio classifier's logits, as av-benchmark computes them."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["InceptionScore", "KLDivergence", "inception_score", "paired_kl"]


def paired_kl(generated_logits: Tensor, reference_logits: Tensor, activation: str = "softmax") -> Tensor:
    """Per-pair KL(reference ‖ generated) (B,) of class distributions from logits (B, K), in nats.

    ``"softmax"``: one distribution over K classes (av-benchmark's KL-*-softmax, the number papers report);
    ``"sigmoid"``: K independent Bernoulli probabilities, summed as av-benchmark's ``kl_sigmoid`` does.
    """
    if generated_logits.shape != reference_logits.shape or generated_logits.dim() != 2:
        raise ValueError(
            f"paired logits must both be (B, K), got {tuple(generated_logits.shape)} "
            f"and {tuple(reference_logits.shape)}"
        )
    generated, reference = generated_logits.double(), reference_logits.double()
    if activation == "softmax":
        log_q, log_p = F.log_softmax(generated, dim=1), F.log_softmax(reference, dim=1)
    elif activation == "sigmoid":
        log_q, log_p = F.logsigmoid(generated), F.logsigmoid(reference)
    else:
        raise ValueError(f"activation must be 'softmax' or 'sigmoid', got {activation!r}")
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


class KLDivergence(Metric):
    """Mean KL(reference ‖ generated) over pairs (lower is better, 0 when the classifier sees no difference).

    Each generated clip is compared with the reference clip of the same id: p = softmax(reference
    logits), q = softmax(generated logits), KL = Σ p (log p − log q), summed over classes and averaged
    over pairs — av-benchmark's ``F.kl_div(log q, log p, reduction="sum", log_target=True) / B``.
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, activation: str = "softmax", **kwargs) -> None:
        super().__init__(**kwargs)
        if activation not in ("softmax", "sigmoid"):
            raise ValueError(f"activation must be 'softmax' or 'sigmoid', got {activation!r}")
        self.activation = activation
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, generated_logits: Tensor, reference_logits: Tensor) -> None:
        kl = paired_kl(generated_logits.detach(), reference_logits.detach(), self.activation)
        self.total += kl.sum().to(self.total)
        self.count += kl.shape[0]

    def compute(self) -> Tensor:
        if int(self.count) == 0:
            raise ValueError("KLDivergence needs at least one pair before compute()")
        return self.total / self.count


def inception_score(logits: Tensor, splits: int = 10, seed: int | None = 2020) -> tuple[float, float]:
    """(mean, std) over ``splits`` of exp E[KL(p(y|x) ‖ p(y))] of softmax(logits (N, K)), in float64.

    The rows are first shuffled with ``numpy.random.RandomState(seed).permutation`` (no shuffle when seed
    is None); split i holds rows [i·N // splits, (i+1)·N // splits); std is numpy's (ddof 0). This is
    torch-fidelity's ISC as av-benchmark calls it (splits 10, seed 2020).
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, K), got {tuple(logits.shape)}")
    count = logits.shape[0]
    if count < splits:
        raise ValueError(
            f"the Inception Score over {splits} splits needs at least {splits} clips, got {count}"
        )
    if seed is not None:
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(count))]
    logits = logits.double()
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * count // splits, (i + 1) * count // splits
        marginal = p[lo:hi].mean(dim=0, keepdim=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - marginal.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionScore(Metric):
    """Inception Score of generated clips from a classifier's logits (higher is better; 1 ≤ IS ≤ classes).

    High when each clip is confidently one class and the clips together cover many classes. ``compute``
    returns (mean, std) over ``splits`` splits of the shuffled clips (fixed ``seed``).
    """

    higher_is_better = True
    full_state_update = False

    def __init__(self, splits: int = 10, seed: int | None = 2020, **kwargs) -> None:
        super().__init__(**kwargs)
        self.splits, self.seed = splits, seed
        self.add_state("logits", default=[], dist_reduce_fx="cat")

    def update(self, logits: Tensor) -> None:
        if logits.dim() != 2:
            raise ValueError(f"logits must be (B, K), got {tuple(logits.shape)}")
        self.logits.append(logits.detach().double())

    def compute(self) -> tuple[Tensor, Tensor]:
        if not self.logits:
            raise ValueError("InceptionScore needs logits before compute()")
        mean, std = inception_score(dim_zero_cat(self.logits), self.splits, self.seed)
        return torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
