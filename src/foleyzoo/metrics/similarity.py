"""Paired cosine scores: audio–video alignment (IB-score's role) and text–audio agreement (CLAP score)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import Metric

__all__ = ["AVAlignment", "PairedCosine", "TextAudioScore"]


class PairedCosine(Metric):
    """Mean cosine similarity of row-paired embeddings (B, D) × (B, D), on the raw [-1, 1] scale."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, first: Tensor, second: Tensor) -> None:
        if first.shape != second.shape or first.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} needs paired (B, D) embeddings, got {tuple(first.shape)} "
                f"and {tuple(second.shape)}"
            )
        cosine = F.cosine_similarity(first.detach().double(), second.detach().double(), dim=-1)
        self.total += cosine.sum().to(self.total)
        self.count += cosine.shape[0]

    def compute(self) -> Tensor:
        if int(self.count) == 0:
            raise ValueError(f"{type(self).__name__} needs at least one pair before compute()")
        return self.total / self.count


class AVAlignment(PairedCosine):
    """Mean cosine of each clip's audio and video embeddings, in [-1, 1] (higher is better), never ×100.

    With ImageBind embeddings this is av-benchmark's IB-score (some papers print it ×100; this never
    does); foleyzoo's own stand-in is AVContrastive's audio and visual embeddings.
    """

    def update(self, audio: Tensor, video: Tensor) -> None:  # type: ignore[override]
        super().update(audio, video)


class TextAudioScore(PairedCosine):
    """Mean cosine of each clip's caption embedding and audio embedding (a CLAP score), in [-1, 1]."""

    def update(self, text: Tensor, audio: Tensor) -> None:  # type: ignore[override]
        super().update(text, audio)
