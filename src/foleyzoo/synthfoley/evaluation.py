"""The SynthFoley scores (onsets, class, pan, silent false alarms) as a torchmetrics metric over batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor
from torchmetrics import Metric

from foleyzoo.api import Waveform
from foleyzoo.data.audio import resample
from foleyzoo.synthfoley.scorer import (
    SAMPLE_RATE,
    ClipScore,
    GroundTruth,
    reference_profiles,
    score_clip,
    summarize,
)

__all__ = ["SYNTHFOLEY_DIRECTIONS", "SynthFoleyScores"]

SYNTHFOLEY_DIRECTIONS = {
    "f1": "higher",
    "precision": "higher",
    "recall": "higher",
    "median_offset_ms": "lower",
    "class_accuracy": "higher",
    "pan_error": "lower",
    "silent_false_alarms": "lower",
}
"""The summary's measures a model should raise or lower."""


class SynthFoleyScores(Metric):
    """Scores generated SynthFoley clips against their ground truth with :mod:`foleyzoo.synthfoley.scorer`.

    ``update(audio, truths)``: audio (B, C, N) (mono counts as centred; another rate is resampled to
    16 kHz) and each clip's ground truth (a :class:`GroundTruth` or its sidecar JSON dict). ``compute``
    pools the clips as ``scorer.summarize`` does and returns its summary as a dict of floats. Clip scores
    are Python objects, so this metric does not synchronise across processes.
    """

    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scores: list[ClipScore] = []
        self._profiles: dict[str, np.ndarray] | None = None

    def reset(self) -> None:
        super().reset()
        self.scores = []

    def update(
        self,
        audio: Waveform | Tensor,
        truths: Sequence[GroundTruth | Mapping[str, Any]],
        stems: Sequence[str] | None = None,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if isinstance(audio, Waveform):
            samples, sample_rate = audio.samples, audio.sample_rate
        else:
            samples = audio
        if samples.dim() != 3 or samples.shape[0] != len(truths):
            raise ValueError(
                f"audio must be (B, C, N) with one ground truth a clip, got {tuple(samples.shape)} "
                f"for {len(truths)} ground truths"
            )
        samples = resample(samples.detach().float().cpu(), sample_rate, SAMPLE_RATE)
        if self._profiles is None:
            self._profiles = reference_profiles()
        for row, truth in enumerate(truths):
            if not isinstance(truth, GroundTruth):
                truth = GroundTruth.from_json(dict(truth))
            stem = stems[row] if stems is not None else str(len(self.scores))
            clip = samples[row].double().numpy()
            self.scores.append(score_clip(clip, truth, SAMPLE_RATE, stem, self._profiles))

    def compute(self) -> dict[str, float]:
        if not self.scores:
            raise ValueError("SynthFoleyScores needs at least one clip before compute()")
        return {key: float(value) for key, value in summarize(self.scores).as_dict().items()}
