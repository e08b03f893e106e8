"""benchmarks/flow_loss_gap: the loss at each fixed time, with noise that is the same for every set of clips."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace

import pytest
import torch
from benchmarks._common import REPO_ROOT


@pytest.fixture
def flow_loss_gap(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("flow_loss_gap")


class ZeroVelocity:
    """A stand-in flow model whose denoiser predicts zero: its loss at any time is E[(data - noise)^2]."""

    def prepare(self, batch: dict) -> tuple:
        return SimpleNamespace(values=batch["data"], mask=None), None

    def sampling_denoiser(self):
        return lambda x, t, conditions, mask: torch.zeros_like(x)


def test_each_time_is_scored_on_the_same_noise_whatever_the_clips(flow_loss_gap: ModuleType) -> None:
    data = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(1))
    loader = [{"data": data[:1]}, {"data": data[1:]}]
    times = (0.1, 0.9)
    losses = flow_loss_gap.losses_at_times(ZeroVelocity(), loader, times, seed=7)
    generator = torch.Generator().manual_seed(7)
    expected = torch.zeros(len(times))
    for row in (data[:1], data[1:]):  # the noise is drawn batch by batch, time by time
        for index in range(len(times)):
            noise = torch.randn(row.shape, generator=generator)
            expected[index] += (row - noise).pow(2).mean()
    torch.testing.assert_close(torch.tensor(losses), expected / 2)
    assert losses == flow_loss_gap.losses_at_times(ZeroVelocity(), loader, times, seed=7)
    assert losses != flow_loss_gap.losses_at_times(ZeroVelocity(), loader, times, seed=8)
