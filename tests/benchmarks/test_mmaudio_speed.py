"""benchmarks/mmaudio_denoiser_speed: its memory figure sees an allocation and its table divides the right way."""

from __future__ import annotations

import importlib

import pytest
import torch
from benchmarks._common import REPO_ROOT


@pytest.fixture
def speed(monkeypatch: pytest.MonkeyPatch):
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("mmaudio_denoiser_speed")


def test_peak_memory_counts_what_a_call_allocates(speed) -> None:
    seconds, peak, output = speed.measure(lambda: torch.ones(16_000_000).sum(), torch.device("cpu"))
    assert seconds > 0 and float(output) == 16_000_000
    assert peak >= 0.9 * 64_000_000  # a 64 MB tensor lived during the call


def test_the_table_gives_speed_over_mmaudio_and_says_when_it_was_not_there(speed) -> None:
    row = {"variant": "small_16k", "case": "forward", "median_s": 1.0, "all_s": [], "peak_bytes": 2**20}
    rows = [
        {**row, "implementation": "foleyzoo", "best_s": 0.5, "relative_error_vs_mmaudio": 1e-6},
        {**row, "implementation": "MMAudio", "best_s": 0.75, "relative_error_vs_mmaudio": None},
        {
            **row,
            "case": "sampling",
            "implementation": "foleyzoo",
            "best_s": 2.0,
            "relative_error_vs_mmaudio": None,
        },
    ]
    lines = speed.table(rows).splitlines()
    assert "| small_16k | forward | foleyzoo | 0.500 | 1.000 | 1.50x | 1 | 1.0e-06 |" in lines
    assert "| small_16k | sampling | foleyzoo | 2.000 | 1.000 | n/a | 1 |  |" in lines
