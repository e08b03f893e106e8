"""benchmarks/consensus_draws: the kept draw is the one the other draws agree with most."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from benchmarks._common import REPO_ROOT


@pytest.fixture
def consensus_draws(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("consensus_draws")


def test_agreement_is_the_onset_f1_between_two_draws(consensus_draws: ModuleType) -> None:
    assert consensus_draws.agreement([1.0, 2.0], [1.02, 2.0, 3.0]) == pytest.approx(0.8)
    assert consensus_draws.agreement([], []) == 1.0
    assert consensus_draws.agreement([1.0], []) == 0.0


def test_the_draw_nearest_the_others_is_kept_and_ties_keep_the_earliest(consensus_draws: ModuleType) -> None:
    draws = [
        [0.5, 1.0, 1.6, 3.0],  # a made-up sound at 1.6 s and one at 3 s that no other draw has
        [0.5, 1.0, 2.0],
        [0.51, 1.01, 2.02, 2.6],  # the majority's onsets, plus one more
        [0.5, 1.0, 2.0],
    ]
    assert consensus_draws.consensus(draws) == 1
    assert consensus_draws.consensus([[1.0], [2.0]]) == 0
