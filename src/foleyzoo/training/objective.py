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


def flow_matching_loss(
    predicted: Tensor,
    noise: Tensor,
    data: Tensor,
    mask: Tensor | None = None,
    frame_weights: Tensor | None = None,
) -> Tensor:
    """Mean squared error between the predicted velocity and data − noise; ``mask`` (B, T) drops padding,
    ``frame_weights`` (B, T) weighs frames (a weighted mean: the loss keeps the unweighted one's scale)."""
    error = (predicted - (data - noise)).pow(2)
    if mask is None and frame_weights is None:
        return error.mean()
    weights = torch.ones(error.shape[:2], dtype=error.dtype, device=error.device)
    if mask is not None:
        weights = weights * mask.to(error.dtype)
    if frame_weights is not None:
        weights = weights * frame_weights.to(error.dtype)
    weights = weights.reshape(*weights.shape, *([1] * (error.dim() - 2)))
    return (error * weights).sum() / (weights.sum() * error[0, 0].numel()).clamp_min(1e-12)


def onset_weights(data: Tensor, strength: float, mask: Tensor | None = None, spread: int = 1) -> Tensor:
    """(B, T) loss weights that stress the frames where the target sound changes: its attacks.

    A frame's change is the norm of its latent minus the previous one's, taken as the largest within
    ``spread`` frames either side (the frames just before an attack decide when it starts), divided by
    the clip's mean change; the weight is ``1 + strength · change``. Sustained decays, which dominate
    the unweighted loss of percussive sound, keep weight 1 + ``strength`` · (their small change).
    """
    change = torch.zeros(data.shape[:2], dtype=torch.float32, device=data.device)
    change[:, 1:] = (data[:, 1:] - data[:, :-1]).float().norm(dim=-1)
    valid = torch.ones_like(change) if mask is None else mask.to(change.dtype)
    change = change * valid
    if spread > 0:
        window = 2 * spread + 1
        change = torch.nn.functional.max_pool1d(change[:, None], window, stride=1, padding=spread).squeeze(1)
    mean = (change * valid).sum(dim=1, keepdim=True) / valid.sum(dim=1, keepdim=True).clamp_min(1.0)
    return 1.0 + strength * change / mean.clamp_min(1e-6)


def classifier_free_guidance(conditional: Tensor, unconditional: Tensor, scale: float) -> Tensor:
    """v = v_uncond + scale·(v_cond − v_uncond); scale 1 is plain conditional sampling."""
    return unconditional + scale * (conditional - unconditional)
