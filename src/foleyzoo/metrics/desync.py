"""DeSync: how far, in seconds, a sync model judges generated audio to be off its video."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

__all__ = ["DeSync"]


class DeSync(Metric):
    """Mean |predicted offset| in seconds over clips (lower is better; 0 = judged in sync).

    ``update`` takes the offsets (B,) a sync model predicts for (video, generated audio) pairs, or
    (B, W) for W windows a clip (av-benchmark reads the first and the last 4.8 s); every window counts
    once. The metric is only as fine as the model's offset grid (0.2 s steps for Synchformer's 21
    classes over ±2 s, 0.1 s for foleyzoo's SyncPretraining over ±1 s).
    """

    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, offsets: Tensor) -> None:
        offsets = offsets.detach().double().flatten()
        self.total += offsets.abs().sum().to(self.total)
        self.count += offsets.numel()

    def compute(self) -> Tensor:
        if int(self.count) == 0:
            raise ValueError("DeSync needs at least one predicted offset before compute()")
        return self.total / self.count
