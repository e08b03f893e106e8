"""Scoring generated SynthFoley clips: the one helper every stage's evaluation uses.

:class:`ClipScorer` scores clip after clip against their ground truth (the scorer's reference class
profiles computed once) and pools them as :func:`~foleyzoo.synthfoley.scorer.summarize` does: the codec,
the sync and stereo stages, the flow model, the pipeline and ``foleyzoo eval`` all score through it.
:class:`SynthFoleyScores` is the same as a torchmetrics metric over batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from foleyzoo.api import Waveform
from foleyzoo.data.audio import resample
from foleyzoo.synthfoley.scorer import (
    SAMPLE_RATE,
    STANDARD,
    ClipScore,
    GroundTruth,
    OnsetDetector,
    ScoreSummary,
    reference_profiles,
    score_clip,
    summarize,
)

__all__ = ["SYNTHFOLEY_DIRECTIONS", "ClipScorer", "SynthFoleyScores"]

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


class ClipScorer:
    """Scores generated clips one by one and pools them: ``add`` each, then ``summary``."""

    def __init__(self, detector: OnsetDetector = STANDARD) -> None:
        self.scores: list[ClipScore] = []
        self.detector = detector
        self._profiles: dict[str, np.ndarray] | None = None

    def add(
        self, audio: Any, truth: GroundTruth, sample_rate: int = SAMPLE_RATE, stem: str = ""
    ) -> ClipScore:
        """Score one clip's (C, N) audio (a tensor or array; another rate is resampled to 16 kHz)."""
        if sample_rate != SAMPLE_RATE:
            audio = resample(torch.as_tensor(audio).float(), sample_rate, SAMPLE_RATE)
        if isinstance(audio, Tensor):
            audio = audio.detach().cpu()
        if self._profiles is None:
            self._profiles = reference_profiles()
        score = score_clip(
            audio, truth, SAMPLE_RATE, stem or str(len(self.scores)), self._profiles, self.detector
        )
        self.scores.append(score)
        return score

    def summary(self) -> ScoreSummary:
        """Every clip so far, pooled."""
        return summarize(self.scores)


class SynthFoleyScores(Metric):
    """Scores generated SynthFoley clips against their ground truth with :mod:`foleyzoo.synthfoley.scorer`.

    ``update(audio, truths)``: audio (B, C, N) (mono counts as centred; another rate is resampled to
    16 kHz) and each clip's ground truth (a :class:`GroundTruth` or its sidecar JSON dict). ``compute``
    pools the clips as ``scorer.summarize`` does and returns its summary as a dict of floats. Clip scores
    are Python objects, so this metric does not synchronise across processes.
    """

    full_state_update = False

    def __init__(self, detector: OnsetDetector = STANDARD, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scores: list[ClipScore] = []
        self.detector = detector
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
            self.scores.append(score_clip(clip, truth, SAMPLE_RATE, stem, self._profiles, self.detector))

    def compute(self) -> dict[str, float]:
        if not self.scores:
            raise ValueError("SynthFoleyScores needs at least one clip before compute()")
        return {key: float(value) for key, value in summarize(self.scores).as_dict().items()}
