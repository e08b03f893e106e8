"""Fixed-step explicit ODE solvers that integrate a flow from noise (t = 0) to data (t = 1)."""

from __future__ import annotations

import itertools

from torch import Tensor

from foleyzoo.api import Sampler, VelocityFn


def _batch_time(t: Tensor, like: Tensor) -> Tensor:
    """A scalar time as a (B,) tensor on ``like``'s device and dtype."""
    return t.to(device=like.device, dtype=like.dtype).expand(like.shape[0])


class EulerSampler(Sampler):
    """First-order Euler steps: one velocity evaluation a step (MMAudio and Kling-Foley use 25)."""

    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        x = noise
        times = self.timesteps(noise.device)
        for t0, t1 in itertools.pairwise(times):
            x = x + (t1 - t0) * velocity(x, _batch_time(t0, x))
        return x


class MidpointSampler(Sampler):
    """Second-order explicit midpoint rule: two velocity evaluations a step."""

    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        x = noise
        times = self.timesteps(noise.device)
        for t0, t1 in itertools.pairwise(times):
            h = t1 - t0
            x_mid = x + 0.5 * h * velocity(x, _batch_time(t0, x))
            x = x + h * velocity(x_mid, _batch_time(t0 + 0.5 * h, x))
        return x


class HeunSampler(Sampler):
    """Second-order Heun (trapezoidal predictor-corrector): two velocity evaluations a step."""

    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        x = noise
        times = self.timesteps(noise.device)
        for t0, t1 in itertools.pairwise(times):
            h = t1 - t0
            v0 = velocity(x, _batch_time(t0, x))
            x_pred = x + h * v0
            x = x + 0.5 * h * (v0 + velocity(x_pred, _batch_time(t1, x)))
        return x
