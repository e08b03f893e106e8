"""benchmarks/codec_quality with MMAudio's codec: nothing measured without the weights, per-domain scores with them."""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from benchmarks._common import REPO_ROOT

from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.io.media import write_wav
from foleyzoo.vocoders import BigVGANVocoder

RATE = 16000


@pytest.fixture
def quality(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The script as a module, importing its neighbours as it does when run from benchmarks/; one thread."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield importlib.import_module("codec_quality")
    torch.set_num_threads(previous)


def test_without_the_weights_it_says_so_and_measures_nothing(quality, tmp_path, capsys):
    out = tmp_path / "results.json"
    argv = [
        "--mmaudio-vae",
        str(tmp_path / "v1-44.pth"),
        "--variant",
        "44k",
        "--vocoder",
        str(tmp_path / "bigvgan"),
    ]
    assert quality.main([*argv, "--corpus", str(tmp_path), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing was measured" in err and f"{tmp_path / 'v1-44.pth'}: no such file" in err
    assert (
        f"{tmp_path / 'bigvgan' / 'config.json'}: no such file" in err
        and "bigvgan_v2_44khz_128band_512x" in err
    )
    assert not out.exists()


def test_with_weights_it_scores_each_domain_against_the_vocoder_only_ceiling(
    quality, tmp_path, monkeypatch, capsys
):
    """Tiny random parts stand in for the released files (the loaders are what the loading tests test)."""
    codec = EDM2MelVAE(latent_dim=4, hidden=8).eval()
    vocoder = BigVGANVocoder(
        sample_rate=RATE,
        n_fft=1024,
        hop_length=256,
        n_mels=80,
        f_max=8000.0,
        log10=True,
        upsample_rates=(4, 4, 2, 2, 2, 2),
        upsample_kernel_sizes=(8, 8, 4, 4, 4, 4),
        upsample_initial_channel=64,
    ).eval()
    monkeypatch.setattr("foleyzoo.zoo.mmaudio.load_codec", lambda path, variant, verify: codec)
    monkeypatch.setattr("foleyzoo.zoo.mmaudio.load_vocoder", lambda path, variant, verify: vocoder)
    (tmp_path / "v1-16.pth").write_bytes(b"stand-in")
    (tmp_path / "best_netG.pt").write_bytes(b"stand-in")
    with (tmp_path / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "domain", "duration", "split"])
        for domain, hz in (("music", 440.0), ("effects", 1500.0)):
            audio = (0.4 * np.sin(2 * np.pi * hz * np.arange(RATE) / RATE)).astype(np.float32)
            write_wav(tmp_path / f"{domain}.wav", audio[None], RATE)
            writer.writerow([f"{domain}.wav", domain, "1.000", "eval"])
    out = tmp_path / "results.json"
    argv = ["--mmaudio-vae", str(tmp_path / "v1-16.pth"), "--vocoder", str(tmp_path / "best_netG.pt")]
    assert quality.main([*argv, "--corpus", str(tmp_path), "--json", str(out), "--no-verify"]) == 0
    results = json.loads(out.read_text())
    assert set(results["corpus_codec"]) == set(results["corpus_vocoder_only"]) == {"effects", "music"}
    for rows in (results["corpus_codec"], results["corpus_vocoder_only"]):
        assert all(np.isfinite(row["mel_l1"]) and row["seconds"] == 1.0 for row in rows.values())
    assert results["verified"] is False and results["scoring_mels"].startswith("natural log")
    assert "| music | 1 | 1.0 |" in capsys.readouterr().out
