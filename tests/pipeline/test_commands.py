"""``foleyzoo export``, ``generate`` and ``models`` on real files, bad ones included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.data.video_fixtures import make_video

from foleyzoo.cli.main import run
from foleyzoo.io.media import probe, read_audio


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "short.mp4", seconds=1.2)
    make_video(folder / "longer.mp4", seconds=2.6, fps=24.0)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return folder


def test_generate_writes_wav_and_mp4_per_video_reports_bad_ones_and_resumes(
    bundle: Path, videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    command = [
        "generate",
        "--model",
        str(bundle),
        "--input",
        str(videos),
        "--output",
        str(out),
        "--steps",
        "2",
    ]
    assert run(command) == 1  # one input failed, the others ran
    captured = capsys.readouterr()
    assert "broken.mp4" in captured.err and "2 written, 0 skipped (already there), 1 failed" in captured.out
    for stem, seconds in (("short", 1.2), ("longer", 2.6)):
        audio = read_audio(out / f"{stem}.wav", 16000, channels=2)
        assert audio.shape[0] == 2 and abs(audio.shape[1] / 16000 - seconds) < 0.01
        muxed = probe(out / f"{stem}.mp4")
        assert muxed.has_video and muxed.has_audio and muxed.channels == 2
    assert not (out / "broken.wav").exists()
    stamp = (out / "short.wav").stat().st_mtime_ns
    assert run([*command[:4], str(videos / "short.mp4"), *command[5:]]) == 0
    assert (
        "0 written, 1 skipped" in capsys.readouterr().out and (out / "short.wav").stat().st_mtime_ns == stamp
    )


def test_export_with_a_card_and_models_lists_it(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = bundle.parent / "runs/kling-tiny/checkpoints/last.ckpt"
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"onset_f1": 0.48, "note": "text is ignored"}))
    home = tmp_path / "home"
    target = home / "tiny-v2a"
    command = [
        "export",
        "--checkpoint",
        str(checkpoint),
        "--output",
        str(target),
        "--renderer",
        "foleyzoo.renderers.DualMono",
    ]
    assert run([*command, "--trained-on", "SynthFoley", "--licence", "MIT", "--scores", str(scores)]) == 0
    card = json.loads((target / "card.json").read_text())
    assert card["scores"] == {"onset_f1": 0.48} and card["licence"] == "MIT" and card["name"] == "tiny-v2a"
    assert run(command) == 2 and "already exists" in capsys.readouterr().err
    monkeypatch.setenv("FOLEYZOO_HOME", str(home))
    assert run(["models"]) == 0
    listed = capsys.readouterr().out
    assert "tiny-v2a" in listed and "SynthFoley" in listed and "onset_f1 0.48" in listed
    out = tmp_path / "by-name"
    clip = make_video(tmp_path / "one.mp4", seconds=1.0)
    assert (
        run(
            [
                "generate",
                "--model",
                "tiny-v2a",
                "--input",
                str(clip),
                "--output",
                str(out),
                "--steps",
                "1",
                "--no-mux",
            ]
        )
        == 0
    )
    assert (out / "one.wav").is_file() and not (out / "one.mp4").exists()


def test_generate_names_a_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("FOLEYZOO_HOME", str(tmp_path))
    clip = make_video(tmp_path / "one.mp4", seconds=1.0)
    assert run(["generate", "--model", "nope", "--input", str(clip), "--output", str(tmp_path / "o")]) == 2
    assert "nope: neither a bundle folder nor a model in" in capsys.readouterr().err


def test_generate_from_a_prompt_alone_writes_one_wav_of_the_duration(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    base = ["generate", "--model", str(bundle), "--output", str(out), "--steps", "2"]
    assert run([*base, "--prompt", "A Dog, barking!", "--duration", "1.5"]) == 0
    captured = capsys.readouterr()
    audio = read_audio(out / "a-dog-barking.wav", 16000, channels=2)
    assert audio.shape == (2, 24000) and abs(audio).max() <= 10 ** (-1 / 20)
    assert "[1/1] a-dog-barking: written" in captured.err  # plain progress: the output is not a terminal
    assert "1 written" in captured.out
    assert run([*base, "--prompt", "rain", "--duration", "0.5", "--name", "rain-take-2"]) == 0
    assert (out / "rain-take-2.wav").is_file()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ([], "give --input VIDEO"),
        (["--prompt", "rain"], "give --input VIDEO"),
        (["--duration", "2"], "give --input VIDEO"),
        (["--input", "x.mp4", "--duration", "2"], "--duration is for text-to-audio"),
    ],
)
def test_generate_names_what_a_request_lacks(
    bundle: Path, tmp_path: Path, extra: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["generate", "--model", str(bundle), "--output", str(tmp_path), *extra]) == 2
    assert problem in capsys.readouterr().err


def test_generate_prints_plain_progress_lines_for_long_work(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("foleyzoo.cli.progress.PLAIN_EVERY", 0.0)  # a line at every step
    video = tmp_path / "clip.mp4"
    make_video(video, seconds=3.5)
    command = ["generate", "--model", str(bundle), "--input", str(video), "--output", str(tmp_path / "o")]
    assert run([*command, "--steps", "2", "--no-mux"]) == 0
    err = capsys.readouterr().err
    assert "clip: windows 1/" in err and "step 2/2" in err and "ETA" in err and "decoding" in err
    assert "[1/1] clip: written" in err
