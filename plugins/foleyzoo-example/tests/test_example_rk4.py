"""RK4Sampler: the sampler contract, and 4th-order convergence on ODEs with known solutions."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from foleyzoo.api import Sampler
from foleyzoo_example.samplers import RK4Sampler


def _solve(velocity, x0: torch.Tensor, steps: int) -> torch.Tensor:
    return RK4Sampler(steps=steps).sample(velocity, x0)


def _decay(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # dx/dt = -x  →  x(1) = e^{-1} x(0)
    return -x


def _per_sample(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return t.view(-1, *([1] * (x.dim() - 1)))  # t is (B,): broadcast it over x's other axes


def _time_dependent(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # dx/dt = 2 cos(2t) x  →  x(1) = exp(sin 2) x(0)
    return 2.0 * torch.cos(2.0 * _per_sample(t, x)) * x


def _forced(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # dx/dt = t - x  →  x(t) = t - 1 + (x(0) + 1) e^{-t}, so x(1) = (x(0) + 1) / e
    return _per_sample(t, x) - x


def _x0() -> torch.Tensor:
    return torch.linspace(-2.0, 2.0, 12, dtype=torch.float64).view(3, 2, 2)


CASES = [  # (velocity, exact x(1) as a function of x(0))
    pytest.param(_decay, lambda x0: math.exp(-1.0) * x0, id="dx/dt=-x"),
    pytest.param(_time_dependent, lambda x0: math.exp(math.sin(2.0)) * x0, id="dx/dt=2cos(2t)x"),
    pytest.param(_forced, lambda x0: (x0 + 1.0) / math.e, id="dx/dt=t-x"),
]


@pytest.mark.parametrize(("velocity", "solution"), CASES)
def test_global_error_falls_16x_when_steps_double(velocity, solution):
    x0 = _x0()
    exact = solution(x0)
    step_counts = [8, 16, 32, 64]  # powers of two: the float32 grid is exact
    errors = [(_solve(velocity, x0, n) - exact).abs().max().item() for n in step_counts]
    assert errors[-1] < 1e-7
    for coarse, fine in itertools.pairwise(errors):
        observed_order = math.log2(coarse / fine)
        assert 3.5 < observed_order < 4.5, (errors, observed_order)


@pytest.mark.parametrize(("velocity", "solution"), CASES)
def test_rk4_beats_euler_by_orders_of_magnitude(velocity, solution):
    x0 = _x0()
    exact = solution(x0)
    x = x0.clone()
    for i in range(16):  # forward Euler on the same grid, as a yardstick
        t = torch.full((x0.shape[0],), i / 16, dtype=x0.dtype)
        x = x + velocity(x, t) / 16
    euler_error = (x - exact).abs().max().item()
    rk4_error = (_solve(velocity, x0, 16) - exact).abs().max().item()
    assert rk4_error < euler_error / 1000


def test_one_step_is_simpsons_rule_exact_for_cubics():
    # dx/dt = 4t³ + 3t² does not depend on x: one RK4 step is Simpson's rule, exact up to cubics.
    x0 = torch.tensor([[0.5], [-1.0]], dtype=torch.float64)
    result = _solve(lambda x, t: (4 * t**3 + 3 * t**2).unsqueeze(-1).expand_as(x), x0, steps=1)
    # ∫₀¹ 4t³ + 3t² dt = 2
    assert torch.allclose(result, x0 + 2.0, atol=1e-12)


def test_velocity_sees_batch_times_on_the_noise_device_and_dtype():
    calls: list[torch.Tensor] = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert x.shape == (5, 3, 2)
        calls.append(t.clone())
        t.add_(100.0)  # a velocity function may scribble on its t; the sampler must not care
        return torch.zeros_like(x)

    noise = torch.randn(5, 3, 2, dtype=torch.float64)
    out = RK4Sampler(steps=2).sample(velocity, noise)
    assert torch.equal(out, noise)  # zero velocity leaves x unchanged
    assert len(calls) == 4 * 2
    for t in calls:
        assert t.shape == (5,)
        assert t.dtype == noise.dtype
        assert t.device == noise.device
        assert torch.all(t == t[0])
    visited = [round(t[0].item(), 6) for t in calls]
    assert visited == [0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0]


def test_follows_a_non_uniform_grid_from_timesteps():
    class SquaredGridRK4(RK4Sampler):
        def timesteps(self, device=None):
            return super().timesteps(device) ** 2

    x0 = _x0()
    exact = math.exp(-1.0) * x0
    error = (SquaredGridRK4(steps=32).sample(_decay, x0) - exact).abs().max().item()
    assert error < 1e-6


def test_is_a_foleyzoo_sampler_and_rejects_zero_steps():
    assert issubclass(RK4Sampler, Sampler)
    assert RK4Sampler.api_version == "1.0"
    assert repr(RK4Sampler(steps=3)) == "RK4Sampler(steps=3)"
    with pytest.raises(ValueError, match="steps"):
        RK4Sampler(steps=0)
