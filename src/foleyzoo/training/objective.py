"""Linear (rectified) flow matching as Kling-Foley trains it: x_t = t·x1 + (1 − t)·x0, target x1 − x0."""

from __future__ import annotations

import torch
from torch import Tensor


def logit_normal_timesteps(
    batch: int,
    mean: float = 0.0,
    std: float = 1.0,
    device: torch.device | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(B,) flow times in (0, 1) drawn as sigmoid(N(mean, std)): more weight on the middle of the path."""
    return torch.sigmoid(mean + std * torch.randn(batch, device=device, generator=generator))


def interpolate(noise: Tensor, data: Tensor, t: Tensor) -> Tensor:
    """x_t = t·data + (1 − t)·noise, with t (B,) broadcast over the remaining dimensions."""
    t = t.reshape(-1, *([1] * (data.dim() - 1)))
    return t * data + (1.0 - t) * noise


def flow_matching_loss(predicted: Tensor, noise: Tensor, data: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared error between the predicted velocity and data − noise; ``mask`` (B, T) drops padding."""
    error = (predicted - (data - noise)).pow(2)
    if mask is None:
        return error.mean()
    weights = mask.to(error.dtype).reshape(*mask.shape, *([1] * (error.dim() - mask.dim())))
    return (error * weights).sum() / (weights.sum() * error[0, 0].numel()).clamp_min(1.0)


def classifier_free_guidance(conditional: Tensor, unconditional: Tensor, scale: float) -> Tensor:
    """v = v_uncond + scale·(v_cond − v_uncond); scale 1 is plain conditional sampling."""
    return unconditional + scale * (conditional - unconditional)
