"""Sampling as MMAudio samples, through foleyzoo's own guidance and Euler sampler.

MMAudio integrates its flow with 25 Euler steps on linspace(0, 1, 26) and classifier-free guidance
w·v(c) + (1 − w)·v(∅) with w = 4.5, the unconditional branch holding the empty video features and the
negative prompt's text (the empty prompt when there is none). foleyzoo's :func:`guided_velocity` computes
v(∅) + w·(v(c) − v(∅)) — the same velocity — with both branches in one batched forward pass.
"""

from __future__ import annotations

from torch import Tensor

from foleyzoo.api import Conditions, Denoiser, TextFeatures
from foleyzoo.samplers import EulerSampler
from foleyzoo.samplers.guidance import guided_velocity

__all__ = ["CFG_STRENGTH", "STEPS", "sample_latents"]

CFG_STRENGTH = 4.5
"""MMAudio's default guidance strength."""

STEPS = 25
"""MMAudio's default number of Euler steps."""


def sample_latents(
    denoiser: Denoiser,
    conditions: Conditions,
    noise: Tensor,
    cfg_strength: float = CFG_STRENGTH,
    steps: int = STEPS,
    negative_text: TextFeatures | None = None,
) -> Tensor:
    """Normalised latents (B, N, C) integrated from ``noise`` x0 (B, N, C) as MMAudio's ``FlowMatching.to_data``.

    ``negative_text`` replaces the empty prompt in the unconditional branch. As in MMAudio, a strength
    below 1 samples the conditional velocity alone. Multiply by ``latent_std`` and add ``latent_mean`` to
    get the codec's latents. The noise is the caller's: the same seed gives other noise than MMAudio's.
    """
    scale = max(1.0, cfg_strength)
    velocity = guided_velocity(
        denoiser, conditions, scale, negative_text=negative_text, prepare=denoiser.prepare
    )
    return EulerSampler(steps=steps).sample(velocity, noise)
