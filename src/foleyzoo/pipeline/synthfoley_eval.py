"""Score a pipeline's stereo output on held-out SynthFoley clips with the SynthFoley scorer.

Each clip's 24 fps frames go in as :class:`~foleyzoo.pipeline.VideoFrames` with its caption as the prompt
(as in training), and the stereo audio is scored against the clip's ground truth: onset F1 and offset,
class accuracy, pan error, silent false alarms. ``last_seconds`` scores only the end of each clip, to
check that a long video keeps its sync to the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from foleyzoo.pipeline.pipeline import FoleyPipeline, VideoFrames
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.generator import FPS
from foleyzoo.synthfoley.scorer import (
    STANDARD,
    GroundTruth,
    OnsetDetector,
    ScoreSummary,
)
from foleyzoo.synthfoley.variation import HELD_OUT

EDGE = 0.05
"""Seconds after a cut in which events are not counted (their onset may fall before the cut)."""


def last_part(
    audio: torch.Tensor, truth: GroundTruth, seconds: float, sample_rate: int
) -> tuple[torch.Tensor, GroundTruth]:
    """The final ``seconds`` of a clip's audio and its ground truth, times shifted to the cut."""
    start = max(0.0, truth.duration - seconds)
    kept = [replace(e, time=e.time - start) for e in truth.events if e.time >= start + EDGE]
    silent = tuple(t - start for t in truth.silent_impacts if t >= start + EDGE)
    cut = audio[..., round(start * sample_rate) :]
    return cut, GroundTruth(truth.duration - start, tuple(kept), silent)


@torch.no_grad()
def score_pipeline(
    pipeline: FoleyPipeline,
    seed: int = 2024,
    clips: int = 32,
    duration: float = 4.0,
    last_seconds: float | None = None,
    noise_seed: int = 0,
    detector: OnsetDetector = STANDARD,
    varied: bool = False,
    **options: Any,
) -> ScoreSummary:
    """Generate stereo audio for ``clips`` clean SynthFoley clips of ``seed`` and score it.

    ``options`` go to :meth:`FoleyPipeline.generate` (``steps``, ``cfg``, ``sampler``); clip ``i`` is
    generated with seed ``noise_seed + i``, so other ``noise_seed`` values give other draws of the noise.
    ``detector`` is the scorer's onset detector; ``varied`` draws the clips with every choice the spec
    leaves free varied and their frames through H.264 (:mod:`foleyzoo.synthfoley.variation`).
    """
    scorer = ClipScorer(detector)
    for index in range(clips):
        item = make_item(seed, index, duration, clean=True, variety=HELD_OUT if varied else None)
        truth = GroundTruth.from_json(item["meta"])
        video = VideoFrames(item["frames"], FPS)
        audio = pipeline.generate(
            video, prompt=item["caption"], duration=duration, seed=noise_seed + index, **options
        )
        samples = audio.samples
        if last_seconds is not None:
            samples, truth = last_part(samples, truth, last_seconds, audio.sample_rate)
        scorer.add(samples, truth, audio.sample_rate, stem=f"clip_{index:05d}")
    return scorer.summary()


def summary_row(summary: ScoreSummary) -> dict[str, float]:
    """The scores the issue's targets name, as plain numbers for tables, JSON and model cards."""
    alarms = summary.silent_false_alarms / summary.silent_impacts if summary.silent_impacts else 0.0
    return {
        "onset_f1": summary.f1,
        "onset_precision": summary.precision,
        "onset_recall": summary.recall,
        "median_offset_ms": summary.median_offset_ms,
        "class_accuracy": summary.class_accuracy,
        "pan_error": summary.pan_error,
        "silent_false_alarm_rate": alarms,
        "silent_clip_alarm_rate": summary.silent_clip_alarm_rate,
    }
