"""A classic 4th-order Runge–Kutta sampler for foleyzoo's flow models.

foleyzoo's flow models generate by integrating an ordinary differential equation,
dx/dt = v(x, t), from pure noise at t = 0 to data at t = 1. A :class:`foleyzoo.api.Sampler`
is the ODE solver that does this. The model hands it a *velocity function* (guidance already
applied) and the starting noise; the sampler returns x(1).

RK4 evaluates the velocity four times per step and its global error falls as h⁴ (halve the step,
error / 16), against h for Euler and h² for midpoint/Heun. For a smooth velocity field it reaches
a given accuracy with far fewer steps; each step costs four network evaluations, though, so compare
samplers at equal *evaluations*, not equal steps.
"""

from __future__ import annotations

from torch import Tensor

from foleyzoo.api import Sampler, VelocityFn


class RK4Sampler(Sampler):
    """Classic 4th-order Runge–Kutta over the grid :meth:`~foleyzoo.api.Sampler.timesteps` returns.

    Args:
        steps: number of RK4 steps from t = 0 to t = 1 (inherited from :class:`~foleyzoo.api.Sampler`).
            The velocity function is called ``4 * steps`` times.

    For each step from ``t0`` to ``t1 = t0 + h``::

        k1 = v(x,              t0)
        k2 = v(x + h/2 · k1,   t0 + h/2)
        k3 = v(x + h/2 · k2,   t0 + h/2)
        k4 = v(x + h · k3,     t1)
        x  ← x + h/6 · (k1 + 2·k2 + 2·k3 + k4)

    The step sizes are taken from the grid, so a subclass that overrides ``timesteps`` with a
    non-uniform schedule still gets correct RK4 steps.

    Example (recipe YAML)::

        sampler:
          class_path: RK4Sampler
          init_args:
            steps: 8
    """

    api_version = "1.0"  # the foleyzoo plugin API this class was written against

    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        """Integrate dx/dt = velocity(x, t) from x(0) = ``noise`` to t = 1 and return x(1).

        ``velocity`` is called with ``x`` shaped like ``noise`` and ``t`` a tensor of shape (B,)
        (B = ``noise.shape[0]``) on ``noise``'s device and dtype, every entry the same time.
        """
        batch = noise.shape[0]
        grid = self.timesteps(device=noise.device).to(dtype=noise.dtype)
        x = noise
        for i in range(self.steps):
            t0, t1 = grid[i], grid[i + 1]
            h = t1 - t0
            t_mid = t0 + 0.5 * h
            # .repeat gives each call its own (B,) tensor, so a velocity function may modify it freely.
            k1 = velocity(x, t0.repeat(batch))
            k2 = velocity(x + (0.5 * h) * k1, t_mid.repeat(batch))
            k3 = velocity(x + (0.5 * h) * k2, t_mid.repeat(batch))
            k4 = velocity(x + h * k3, t1.repeat(batch))
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return x
