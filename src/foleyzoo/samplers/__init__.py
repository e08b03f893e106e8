"""ODE samplers for flow matching (Sampler plugins); any of them can be chosen from YAML."""

from __future__ import annotations

from foleyzoo.samplers.ode import DPMSolverSampler, EulerSampler, HeunSampler, MidpointSampler

__all__ = ["DPMSolverSampler", "EulerSampler", "HeunSampler", "MidpointSampler"]
