"""benchmarks/vocoder_ceiling: a Griffin-Lim a band count and starting phase, strict scores of clean clips."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from benchmarks._common import REPO_ROOT


@pytest.fixture
def vocoder_ceiling(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("vocoder_ceiling")


def test_every_band_count_and_phase_gets_its_own_griffin_lim(vocoder_ceiling: ModuleType) -> None:
    import argparse

    args = argparse.Namespace(
        n_fft=512,
        hop=128,
        iterations=8,
        n_mels=[64, 96],
        phase_init=["zero", "random"],
        vocos_checkpoint=None,
    )
    vocoders = vocoder_ceiling.build_vocoders(args)
    assert sorted((v.n_mels, v.phase_init) for v in vocoders.values()) == [
        (64, "random"),
        (64, "zero"),
        (96, "random"),
        (96, "zero"),
    ]


def test_varied_clips_are_other_clips_and_scored_by_both_detectors(vocoder_ceiling: ModuleType) -> None:
    from foleyzoo.codecs.mel import MelFrontend
    from foleyzoo.vocoders import GriffinLimVocoder

    vocoder = GriffinLimVocoder(sample_rate=16000, n_fft=512, hop_length=128, n_mels=96, phase_init="zero")
    frontend = MelFrontend(vocoder.mel_settings)
    standard = vocoder_ceiling.synthfoley_scores(vocoder, frontend, clips=1, seed=2024)
    varied = vocoder_ceiling.synthfoley_scores(vocoder, frontend, clips=1, seed=2024, varied=True)
    assert standard["mel_l1"] != varied["mel_l1"]  # another scene, not the same clip drawn twice
    for scores in (standard, varied):
        assert 0.0 < scores["strict_precision"] <= 1.0
        assert scores["strict_onset_f1"] >= 0.9  # clean sound through 96 bands: what the quickstart relies on
