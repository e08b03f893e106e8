"""Each sampler's error on an analytic flow falls with the number of steps at its expected order."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from foleyzoo.samplers import DPMSolverSampler, EulerSampler, HeunSampler, MidpointSampler


def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """dx/dt = cos(t)·x, whose exact solution is x(1) = x(0)·e^{sin 1}."""
    return torch.cos(t)[:, None] * x


def error(sampler_cls, steps: int) -> float:
    x0 = torch.linspace(-2, 2, 8, dtype=torch.float64).reshape(4, 2)
    result = sampler_cls(steps=steps).sample(velocity, x0)
    return (result - x0 * math.exp(math.sin(1.0))).abs().max().item()


def observed_orders(errors: list[float]) -> list[float]:
    """log2 of the error ratio between successive step counts that double."""
    return [math.log2(a / b) for a, b in itertools.pairwise(errors)]


@pytest.mark.parametrize(
    ("sampler_cls", "order", "steps"),
    [
        (EulerSampler, 1, (8, 16, 32, 64)),
        (MidpointSampler, 2, (8, 16, 32, 64)),
        (HeunSampler, 2, (8, 16, 32, 64)),
        # Its error changes sign near 10 steps on this flow, so the asymptotic regime starts at about 32.
        (DPMSolverSampler, 2, (32, 64, 128, 256)),
    ],
)
def test_convergence_order(sampler_cls, order, steps):
    errors = [error(sampler_cls, n) for n in steps]
    observed = observed_orders(errors)
    assert all(abs(rate - order) < 0.25 for rate in observed), (errors, observed)


MU, S = 1.5, 0.5
"""Data N(MU, S²·I) for the Gaussian flow below."""


def gaussian_sigma(t: torch.Tensor) -> torch.Tensor:
    """Standard deviation of x_t = t·x1 + (1 − t)·x0 with x0 ~ N(0, I) and x1 ~ N(MU, S²·I)."""
    return torch.sqrt((1 - t) ** 2 + (t * S) ** 2)


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The exact flow-matching field from N(0, I) to N(MU, S²·I): MU + (sigma'/sigma)·(x − t·MU)."""
    t = t[:, None]
    sigma = gaussian_sigma(t)
    sigma_dot = (t * S**2 - (1 - t)) / sigma
    return MU + sigma_dot / sigma * (x - t * MU)


def gaussian_error(sampler_cls, steps: int) -> float:
    """Max error at t = 1, where the exact solution x(t) = t·MU + (sigma(t)/sigma(0))·x0 is MU + S·x0."""
    x0 = torch.linspace(-2, 2, 8, dtype=torch.float64).reshape(4, 2)
    result = sampler_cls(steps=steps).sample(gaussian_velocity, x0)
    return (result - (MU + S * x0)).abs().max().item()


def test_gaussian_flow_is_exact():
    """The closed form solves the ODE: its time derivative equals the field along it."""
    x0 = torch.linspace(-2, 2, 8, dtype=torch.float64).reshape(4, 2)
    t = torch.full((4,), 0.3, dtype=torch.float64, requires_grad=True)
    x = t[:, None] * MU + gaussian_sigma(t)[:, None] * x0
    dx_dt = torch.autograd.grad(x.sum(), t)[0]
    assert torch.allclose(dx_dt, gaussian_velocity(x, t).sum(dim=1).detach())


@pytest.mark.parametrize(
    ("sampler_cls", "order"),
    [
        (EulerSampler, 1),
        # Superconvergent here: for a = sigma'/sigma with sigma² quadratic in t, the midpoint rule's h³
        # local-error term a''/24 + a·a'/4 + a³/6 vanishes identically, so it converges at order 3.
        (MidpointSampler, 3),
        (HeunSampler, 2),
        (DPMSolverSampler, 2),
    ],
)
def test_convergence_order_on_gaussian_flow(sampler_cls, order):
    # From 16 steps: at 8, Heun and DPM-Solver are still outside their asymptotic regime.
    errors = [gaussian_error(sampler_cls, n) for n in (16, 32, 64, 128)]
    observed = observed_orders(errors)
    assert all(abs(rate - order) < 0.25 for rate in observed), (errors, observed)


def test_dpm_solver_beats_euler_at_ten_steps():
    assert gaussian_error(DPMSolverSampler, 10) < gaussian_error(EulerSampler, 10)


def test_dpm_solver_evaluates_the_velocity_once_a_step():
    calls = []

    def counted(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(t[0].item())
        return gaussian_velocity(x, t)

    sampler = DPMSolverSampler(steps=7)
    sampler.sample(counted, torch.zeros(2, 3, dtype=torch.float64))
    assert calls == pytest.approx(sampler.timesteps(torch.device("cpu")).tolist()[:-1])


def test_dpm_solver_ends_are_exact():
    """One step from t = 0 to t = 1 is first order at both ends: x = D_0 = x0 + v(x0, 0), the Euler step."""
    x0 = torch.randn(3, 4, dtype=torch.float64)
    one_step = DPMSolverSampler(steps=1).sample(gaussian_velocity, x0)
    torch.testing.assert_close(one_step, EulerSampler(steps=1).sample(gaussian_velocity, x0))


def test_dpm_solver_grid_and_dtype():
    times = DPMSolverSampler(steps=25).timesteps()
    assert times.shape == (26,) and times[0] == 0.0 and times[-1] == 1.0 and bool((times.diff() > 0).all())
    out = DPMSolverSampler(steps=5).sample(gaussian_velocity, torch.randn(2, 3))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_steps_must_be_positive():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        EulerSampler(steps=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        DPMSolverSampler(steps=0)
