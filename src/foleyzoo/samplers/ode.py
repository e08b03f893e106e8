"""Fixed-step explicit ODE solvers that integrate a flow from noise (t = 0) to data (t = 1)."""

from __future__ import annotations

import abc
import itertools

from torch import Tensor

from foleyzoo.api import Sampler, VelocityFn


class FixedStepSampler(Sampler):
    """Walks the time grid of :meth:`timesteps` and leaves one step's rule to subclasses."""

    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        x = noise
        times = self.timesteps(noise.device).to(noise.dtype)
        for t0, t1 in itertools.pairwise(times):
            x = self.step(velocity, x, t0.expand(x.shape[0]), t1 - t0)
        return x

    @abc.abstractmethod
    def step(self, velocity: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
        """x(t) → x(t + h), with t a (B,) tensor and h a scalar tensor."""


class EulerSampler(FixedStepSampler):
    """First-order Euler steps: one velocity evaluation a step (MMAudio and Kling-Foley use 25)."""

    def step(self, velocity: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
        return x + h * velocity(x, t)


class MidpointSampler(FixedStepSampler):
    """Second-order explicit midpoint rule: two velocity evaluations a step."""

    def step(self, velocity: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
        x_mid = x + 0.5 * h * velocity(x, t)
        return x + h * velocity(x_mid, t + 0.5 * h)


class HeunSampler(FixedStepSampler):
    """Second-order Heun (trapezoidal predictor-corrector): two velocity evaluations a step."""

    def step(self, velocity: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
        v0 = velocity(x, t)
        return x + 0.5 * h * (v0 + velocity(x + h * v0, t + h))
