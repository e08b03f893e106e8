"""Each sampler's error on an analytic flow falls with the number of steps at its expected order."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from foleyzoo.samplers import EulerSampler, HeunSampler, MidpointSampler


def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """dx/dt = cos(t)·x, whose exact solution is x(1) = x(0)·e^{sin 1}."""
    return torch.cos(t)[:, None] * x


def error(sampler_cls, steps: int) -> float:
    x0 = torch.linspace(-2, 2, 8, dtype=torch.float64).reshape(4, 2)
    result = sampler_cls(steps=steps).sample(velocity, x0)
    return (result - x0 * math.exp(math.sin(1.0))).abs().max().item()


@pytest.mark.parametrize(
    ("sampler_cls", "order"), [(EulerSampler, 1), (MidpointSampler, 2), (HeunSampler, 2)]
)
def test_convergence_order(sampler_cls, order):
    errors = [error(sampler_cls, steps) for steps in (8, 16, 32, 64)]
    observed = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(abs(rate - order) < 0.25 for rate in observed), (errors, observed)


def test_steps_must_be_positive():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        EulerSampler(steps=0)
