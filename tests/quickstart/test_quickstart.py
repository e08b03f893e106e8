"""The quickstart in its reduced setting: every stage, export, generation and scoring run, and it resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foleyzoo.cli.main import run
from foleyzoo.quickstart import STAGES


@pytest.mark.slow
def test_smoke_quickstart_runs_every_stage_then_skips_or_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """About 3 minutes on 2 cores: two steps a stage, two clips of two sampler steps."""
    monkeypatch.chdir(tmp_path)
    assert run(["quickstart", "--smoke"]) == 0
    first = capsys.readouterr().out
    for stage in STAGES:
        assert (tmp_path / stage.checkpoint).is_file()
        assert json.loads((tmp_path / "runs/quickstart/stages" / f"{stage.name}.json").read_text())["smoke"]
    result = json.loads((tmp_path / "runs/quickstart/scores.json").read_text())
    measures = {
        "onset_f1",
        "onset_precision",
        "onset_recall",
        "median_offset_ms",
        "class_accuracy",
        "pan_error",
        "silent_false_alarm_rate",
        "silent_clip_alarm_rate",
    }
    assert result["clips"] == 2 and set(result["scores"]) == set(result["varied_scores"]) == measures
    assert result["detector"] == "strict" and result["varied_seed"] != result["seed"]
    card = json.loads((tmp_path / "runs/quickstart/pipeline/card.json").read_text())
    assert card["scores"] == result["scores"] and "onset_f1" in first
    assert run(["models"]) == 0  # the bundle is registered where `foleyzoo models` looks
    assert "quickstart-smoke" in capsys.readouterr().out
    (tmp_path / "runs/quickstart/stages/stereo.json").unlink()  # as if the last stage had been interrupted
    assert run(["quickstart", "--smoke"]) == 0
    again = capsys.readouterr().out
    assert again.count("finished before: skipped") == len(STAGES) - 1
    assert "resuming from runs/mono2stereo-tiny/checkpoints/last.ckpt" in again
