"""``foleyzoo synth make`` and ``score`` end to end: files, worker-independent output, scores, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foleyzoo.cli.synth import main


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 2 s clips of seed 5, written by two worker processes, with their clean WAVs."""
    out = tmp_path_factory.mktemp("synth") / "clips"
    argv = ["make", "--output", str(out), "--clips", "3", "--seed", "5", "--duration", "2", "--clean-wav"]
    assert main([*argv, "--workers", "2"]) == 0
    return out


def test_make_writes_each_clip_and_does_not_depend_on_workers(made: Path, tmp_path: Path) -> None:
    stems = [f"clip_{i:05d}" for i in range(3)]
    assert sorted(p.name for p in made.iterdir()) == sorted(
        f"{s}.{ext}" for s in stems for ext in ("json", "mp4", "wav")
    )
    assert json.loads((made / "clip_00001.json").read_text())["duration"] == 2.0
    serial = tmp_path / "serial"
    argv = ["make", "--output", str(serial), "--clips", "3", "--seed", "5", "--duration", "2", "--clean-wav"]
    assert main([*argv, "--workers", "1"]) == 0
    for path in made.iterdir():
        assert (serial / path.name).read_bytes() == path.read_bytes(), path.name


def test_score_clean_wavs_against_their_json(
    made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "scores.json"
    assert main(["score", "--clips", str(made), "--generated", str(made), "--json", str(report)]) == 0
    table = capsys.readouterr().out
    for measure in (
        "onset F1",
        "precision",
        "recall",
        "median |offset|",
        "class accuracy",
        "pan error",
        "silent",
    ):
        assert measure in table
    data = json.loads(report.read_text())
    assert data["summary"]["clips"] == 3 and data["summary"]["f1"] >= 0.95
    assert data["summary"]["class_accuracy"] >= 0.9 and data["summary"]["pan_error"] <= 0.05
    assert [clip["stem"] for clip in data["clips"]] == ["clip_00000", "clip_00001", "clip_00002"]


def test_errors_print_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "--clips", str(tmp_path / "none"), "--generated", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("foleyzoo synth: error:") and "none" in err
    assert main(["make", "--output", str(tmp_path), "--clips", "0", "--seed", "1"]) == 2
    assert "--clips" in capsys.readouterr().err
    assert main(["make", "--output", str(tmp_path), "--clips", "1", "--seed", "1", "--duration", "0.4"]) == 2
    assert main(["--help"]) == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["make", "--output", str(blocker / "clips"), "--clips", "1", "--seed", "1"]) == 2
    assert "a-file" in capsys.readouterr().err
