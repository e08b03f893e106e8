"""Calibration of the SynthFoley scorer: the scores it gives audio whose answer is known.

The clips' own clean and noisy mixes should score near perfectly, silence zero, and the clean mix
delayed (150 ms by default) no better than chance. Chance is not zero: onsets delayed by 150 ms
still land within ±50 ms of *another* object's event about 14 % of the time (SynthFoley has about
2.4 events a second); :func:`chance_f1` measures that level from the ground truth alone.
"""

from __future__ import annotations

import numpy as np

from foleyzoo.synthfoley.generator import SAMPLE_RATE, generate_clip
from foleyzoo.synthfoley.scorer import (
    STANDARD,
    GroundTruth,
    OnsetDetector,
    ScoreSummary,
    match_onsets,
    reference_profiles,
    score_clip,
    summarize,
)

__all__ = ["CONDITIONS", "calibrate", "chance_f1", "delayed"]

CONDITIONS = ("clean", "noisy", "silence", "late")
"""What is scored: the clean mix, the mix with the noise floor, zeros, and the clean mix delayed."""


def delayed(audio: np.ndarray, seconds: float) -> np.ndarray:
    """(C, N) audio delayed by ``seconds`` (zeros in front), cut to the same length."""
    shift = round(seconds * SAMPLE_RATE)
    return np.pad(audio, ((0, 0), (shift, 0)))[:, : audio.shape[1]]


def chance_f1(truths: list[GroundTruth], shift: float) -> float:
    """F1 of a perfect detector on audio ``shift`` seconds late: events matched by coincidence only."""
    matched = events = detections = 0
    for truth in truths:
        times = np.asarray([e.time for e in truth.events])
        late = times[times + shift < truth.duration] + shift
        matched += len(match_onsets(times, late))
        events, detections = events + len(times), detections + len(late)
    return 2 * matched / (events + detections) if events + detections else 1.0


def calibrate(
    num_clips: int = 32,
    seed: int = 2024,
    shift: float = 0.150,
    detector: OnsetDetector = STANDARD,
    varied: bool = False,
) -> tuple[dict[str, ScoreSummary], float]:
    """Score clips (seed, 0 … num_clips − 1) under each of CONDITIONS; also returns the chance F1.

    ``varied`` draws the clips with every free choice of the spec varied (their audio follows the spec
    all the same); ``detector`` is the onset detector scored.
    """
    from foleyzoo.synthfoley.variation import generate_varied_clip

    profiles = reference_profiles()
    scores: dict[str, list] = {condition: [] for condition in CONDITIONS}
    truths = []
    for index in range(num_clips):
        clip = generate_varied_clip((seed, index))[0] if varied else generate_clip((seed, index))
        truth = GroundTruth.from_json(clip.spec.to_json())
        truths.append(truth)
        audio = {
            "clean": clip.clean_audio,
            "noisy": clip.audio,
            "silence": np.zeros_like(clip.audio),
            "late": delayed(clip.clean_audio, shift),
        }
        for condition in CONDITIONS:
            scores[condition].append(
                score_clip(audio[condition], truth, stem=str(index), profiles=profiles, detector=detector)
            )
    return {condition: summarize(clip_scores) for condition, clip_scores in scores.items()}, chance_f1(
        truths, shift
    )
