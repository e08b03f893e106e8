"""The strict onset detector: as accurate on the clean reference, more sensitive to faint false transients."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foleyzoo.cli.main import run
from foleyzoo.synthfoley.calibration import calibrate
from foleyzoo.synthfoley.generator import ClipSpec, SceneObject, render_audio
from foleyzoo.synthfoley.scorer import (
    STANDARD,
    STRICT,
    ClipScore,
    GroundTruth,
    detect_onsets,
    score_clip,
    summarize,
)

SR = 16000


@pytest.mark.parametrize("varied", [False, True])
def test_strict_detector_keeps_the_clean_reference_above_097(varied: bool) -> None:
    """The bar the detector was calibrated to: the clips' own clean audio scores onset F1 ≥ 0.97."""
    summaries, _ = calibrate(24, seed=3, detector=STRICT, varied=varied)
    assert summaries["clean"].f1 >= 0.97
    assert summaries["clean"].class_accuracy >= 0.95 and summaries["clean"].pan_error <= 0.05
    assert summaries["silence"].f1 == 0.0


def _bell_with_a_faint_click(level: float) -> tuple[np.ndarray, GroundTruth]:
    """One bell impact at 0.5 s, then a short noise burst ``level`` below the peak in its decay at 0.9 s."""
    bell = SceneObject("bell", 0.5, 0.08, (0.5,), f0=660.0)
    scene = ClipSpec(duration=1.5, objects=(bell,))
    _, clean = render_audio(scene, np.random.default_rng(0))
    burst = np.random.default_rng(1).standard_normal(160) * np.hanning(160)
    start = round(0.9 * SR)
    clean[:, start : start + 160] += level * np.abs(clean).max() * burst / np.abs(burst).max()
    return clean, GroundTruth.from_json(scene.to_json())


def test_strict_detector_counts_a_faint_transient_that_the_standard_one_lets_pass() -> None:
    audio, truth = _bell_with_a_faint_click(10 ** (-42 / 20))
    standard = score_clip(audio, truth, detector=STANDARD)
    strict = score_clip(audio, truth, detector=STRICT)
    assert standard.matched == strict.matched == 1
    assert standard.detections == 1 and strict.detections == 2
    assert strict.precision == 0.5 and standard.precision == 1.0
    assert np.any(np.abs(detect_onsets(audio, STRICT) - 0.9) < 0.01)


def test_summary_counts_clips_where_a_silent_object_sounded() -> None:
    scores = [
        ClipScore("a", 2, 2, 2, silent_impacts=2, silent_false_alarms=1),
        ClipScore("b", 2, 2, 2, silent_impacts=1, silent_false_alarms=0),
        ClipScore("c", 2, 2, 2),
    ]
    summary = summarize(scores)
    assert (summary.silent_clips, summary.silent_clips_alarmed) == (2, 1)
    assert summary.silent_clip_alarm_rate == 0.5


def test_synth_score_uses_the_strict_detector_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from foleyzoo.io.media import write_wav

    audio, truth = _bell_with_a_faint_click(10 ** (-42 / 20))
    clips, generated, reports_dir = tmp_path / "clips", tmp_path / "generated", tmp_path / "reports"
    for folder in (clips, generated, reports_dir):
        folder.mkdir()
    meta = {
        "duration": truth.duration,
        "objects": [{"class": "bell", "x": 0.5, "radius": 0.08, "impacts": [0.5]}],
        "events": [{"time": 0.5, "class": "bell", "x": 0.5, "amplitude": 0.5}],
    }
    (clips / "clip.json").write_text(json.dumps(meta))
    write_wav(generated / "clip.wav", audio, SR)
    reports = {}
    for detector in ("strict", "standard"):
        out = reports_dir / f"{detector}.json"
        arguments = [
            "synth",
            "score",
            "--clips",
            str(clips),
            "--generated",
            str(generated),
            "--json",
            str(out),
        ]
        assert run([*arguments, "--detector", detector] if detector == "standard" else arguments) == 0
        reports[detector] = json.loads(out.read_text())
    assert reports["strict"]["detector"]["name"] == "strict"
    assert (
        reports["strict"]["summary"]["precision"] == 0.5
        and reports["standard"]["summary"]["precision"] == 1.0
    )
