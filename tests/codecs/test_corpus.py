"""The multi-domain evaluation corpus: MIDI writing, and a tiny real build from the Debian packages.

The build test needs the apt packages sound-theme-freedesktop, fluidsynth, fluid-soundfont-gm and
espeak-ng; where one is missing it FAILS naming the package (it is never skipped).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

from foleyzoo.data import corpus
from foleyzoo.data.corpus import DOMAINS, SPLITS, MissingPackageError, build_corpus, midi_bytes
from foleyzoo.io.media import read_audio


def test_midi_bytes_is_a_standard_midi_file():
    data = midi_bytes([(0, 0, [(0.0, 1.0, 60, 90), (1.0, 0.5, 64, 80)])], tempo_bpm=120.0)
    assert data[:4] == b"MThd" and data[8:14] == bytes([0, 1, 0, 2, 1, 224])  # format 1, 2 tracks, 480 ticks
    assert data.count(b"MTrk") == 2
    assert bytes([0x90, 60, 90]) in data and bytes([0x80, 64, 0]) in data
    assert b"\x00\xff\x51\x03\x07\xa1\x20" in data  # 500000 µs a beat = 120 bpm


def test_variable_length_quantities():
    assert corpus._vlq(0) == b"\x00" and corpus._vlq(127) == b"\x7f"
    assert corpus._vlq(128) == b"\x81\x00" and corpus._vlq(480) == b"\x83\x60"


def test_missing_package_names_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(corpus.shutil, "which", lambda name: None)
    with pytest.raises(MissingPackageError, match=r"'fluidsynth'.*apt-get install fluidsynth"):
        corpus.require_tool("fluidsynth", "fluidsynth")
    with pytest.raises(MissingPackageError, match="fluid-soundfont-gm"):
        corpus.require_path(Path("/nonexistent/FluidR3_GM.sf2"), "fluid-soundfont-gm")


@pytest.mark.slow
def test_tiny_corpus_build_writes_every_domain(tmp_path: Path):
    """Fails (never skips) with MissingPackageError naming the apt package where one is not installed."""
    entries = build_corpus(tmp_path, sample_rate=16000, limit=1)
    assert sorted((e.split, e.domain) for e in entries) == sorted((s, d) for s in SPLITS for d in DOMAINS)
    assert len({Path(e.path).name for e in entries}) == len(entries)  # train and eval material differ
    with (tmp_path / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == [e.path for e in entries]
    for entry in entries:
        audio = read_audio(tmp_path / entry.path, 16000)[0].numpy()
        assert abs(audio.size / 16000 - entry.duration) < 0.01
        assert 0.05 < entry.duration < 12.0  # shortest: a 67 ms click; longest: a 10.7 s sung phrase
        assert np.isclose(np.abs(audio).max(), 0.9, atol=1e-3)
        assert np.sqrt(np.mean(audio**2)) > 0.02  # real sound, not near silence
    piano = next(e.path for e in entries if (e.split, e.domain) == ("eval", "music"))
    music = read_audio(tmp_path / piano, 16000)[0].numpy()
    spectrum = np.abs(np.fft.rfft(music))
    assert 200 < np.argmax(spectrum) * 16000 / music.size < 600  # the piano scale starts at middle C


@pytest.mark.slow
def test_build_script_reports_a_summary(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "build_codec_corpus.py"),
            "--output",
            str(tmp_path),
            "--limit",
            "1",
            "--domains",
            "speech",
            "--splits",
            "eval",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "eval  speech     1 files" in result.stdout and "train" not in result.stdout
    assert (tmp_path / "eval" / "speech").is_dir() and not (tmp_path / "train").exists()
    assert (tmp_path / "manifest.csv").read_text().splitlines()[1].endswith(",eval")
