"""Codec training and evaluation on a corpus folder: splits, windows, the data module and per-domain scores.

A small corpus is written here (tones and noise bursts with a manifest), so these tests need no Debian
package; the real build is tested in test_corpus.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.data.corpus import read_corpus_manifest
from foleyzoo.errors import ConfigError
from foleyzoo.io.media import write_wav
from foleyzoo.synthfoley.audio_datamodule import CorpusAudio, SynthFoleyAudioDataModule
from foleyzoo.training.codec_eval import corpus_scores, pesq_wb, vocoder_render
from foleyzoo.vocoders import GriffinLimVocoder

RATE = 16000


def _tone(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """train: a 5 s tone (music) and a 0.5 s burst (effects); eval: a 3 s tone (music) and 0.1 s click."""
    rng = np.random.default_rng(0)
    files = {
        ("train", "music", "long"): _tone(5.0, 440.0),
        ("train", "effects", "burst"): (0.3 * rng.standard_normal(RATE // 2)).astype(np.float32),
        ("eval", "music", "short"): _tone(3.0, 660.0),
        ("eval", "effects", "click"): (0.3 * rng.standard_normal(RATE // 10)).astype(np.float32),
    }
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "domain", "duration", "split"])
        for (split, domain, name), audio in files.items():
            relative = f"{split}/{domain}/{name}.wav"
            (tmp_path / split / domain).mkdir(parents=True, exist_ok=True)
            write_wav(tmp_path / relative, audio[None], RATE)
            writer.writerow([relative, domain, f"{audio.size / RATE:.3f}", split])
    return tmp_path


def test_manifest_splits_and_old_manifests(corpus: Path, tmp_path: Path) -> None:
    assert {e.path for e in read_corpus_manifest(corpus, "train")} == {
        "train/music/long.wav",
        "train/effects/burst.wav",
    }
    assert len(read_corpus_manifest(corpus)) == 4
    with pytest.raises(ValueError, match="unknown split 'test'"):
        read_corpus_manifest(corpus, "test")
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.csv").write_text("path,domain,duration\nmusic/a.wav,music,1.0\n")
    assert [e.split for e in read_corpus_manifest(old)] == ["eval"]  # built before splits: evaluation only
    with pytest.raises(ConfigError, match="no corpus manifest"):
        read_corpus_manifest(tmp_path / "missing")


def test_windows_cover_files_half_a_window_apart(corpus: Path) -> None:
    train = CorpusAudio(corpus, "train", duration=2.0, sample_rate=RATE, repeats=3)
    # the 5 s tone: windows at 0, 1, 2 and 3 s (the last ends with the file); the 0.5 s burst: one padded window
    assert train.domains == ["music"] * 4 + ["effects"]
    assert len(train) == 15 and all(item["audio"].shape == (1, 2 * RATE) for item in (train[0], train[14]))
    assert torch.equal(train[0]["audio"], train[5]["audio"])  # repeats cycle through the same windows
    assert train.windows[3][0, -RATE:].abs().max() > 0.4  # the last tone window is whole
    assert train.windows[4][0, RATE // 2 :].abs().max() == 0  # the burst is padded with silence
    evaluation = CorpusAudio(corpus, "eval", duration=2.0, sample_rate=RATE)
    assert evaluation.domains == ["music", "music"]  # the 0.1 s click is under a quarter second: left out


def test_data_module_adds_the_corpus(corpus: Path) -> None:
    plain = SynthFoleyAudioDataModule(num_train=4, num_val=2, clip_duration=2.0, batch_size=4)
    mixed = SynthFoleyAudioDataModule(
        num_train=4, num_val=2, clip_duration=2.0, batch_size=4, corpus_dir=str(corpus), corpus_repeats=2
    )
    plain.setup("fit"), mixed.setup("fit")
    assert (len(plain.train_set), len(plain.val_set)) == (4, 2)
    assert (len(mixed.train_set), len(mixed.val_set)) == (4 + 2 * 5, 2 + 2)
    batch = next(iter(mixed.val_dataloader()))
    assert batch["audio"].samples.shape == (4, 1, 2 * RATE)


def test_per_domain_scores_rank_a_better_rendering_higher(corpus: Path) -> None:
    frontend = MelFrontend(MelConfig(sample_rate=RATE, n_fft=512, hop_length=128, n_mels=64))
    vocoder = GriffinLimVocoder(RATE, 512, 128, 64, iterations=16)
    identity = corpus_scores(lambda samples: samples, frontend, corpus)
    vocoded = corpus_scores(vocoder_render(vocoder, frontend), frontend, corpus)
    assert set(identity) == {"effects", "music"} and identity["music"]["files"] == 1
    assert identity["music"]["mel_l1"] < 1e-6 and identity["music"]["mrstft"] < 1e-6
    assert 0 < vocoded["music"]["mel_l1"] < 1.0 and vocoded["music"]["mrstft"] > 0.01


def test_wideband_pesq_tells_clean_from_noisy() -> None:
    """A voiced, syllable-like harmonic signal: PESQ of itself is near the 4.64 maximum, of a noisy copy low."""
    t = np.arange(3 * RATE) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.7 * t)) / RATE
    voiced = (
        sum(np.sin(k * phase) / k for k in range(1, 20)) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    )
    voiced = (0.3 * voiced / np.abs(voiced).max()).astype(np.float32)
    noisy = voiced + 0.05 * np.random.default_rng(0).standard_normal(voiced.size).astype(np.float32)
    assert pesq_wb(voiced, voiced, RATE) > 4.5
    assert pesq_wb(voiced, noisy, RATE) < 2.0
    with pytest.raises(ValueError, match="16 kHz"):
        pesq_wb(voiced, voiced, 8000)
