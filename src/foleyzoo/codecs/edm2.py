"""Magnitude-preserving layers after EDM2 (Karras et al., 2024, "Analyzing and Improving the Training
Dynamics of Diffusion Models"), in one dimension, for inference with weights trained that way.

Written from the paper's equations: every layer keeps unit-variance inputs at unit variance.

* ``mp_silu(x) = silu(x) / 0.596``: 0.596 is the magnitude (root mean square) of silu(x) for x ~ N(0, 1).
* ``mp_sum(a, b, t) = ((1 − t)·a + t·b) / sqrt((1 − t)² + t²)``: a weighted sum of two unit-variance
  signals with unit variance (t is the weight of b; residual branches use t = 0.3).
* ``pixel_norm(x)``: x divided by its root mean square over the channels, ε + ‖x‖ / sqrt(C) with
  ε = 1e-4 (the paper's "pixel norm", here over the channels of each time step).
* weight normalisation: each output channel's weights w_i are divided by ε + ‖w_i‖ / sqrt(fan_in) and
  by sqrt(fan_in), so that the effective weights have unit norm (a magnitude-preserving layer).
  Trained networks normalise on the fly; :func:`fold_weight` does it once, at load, and
  :class:`MPConv1d` then only multiplies by its gain.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "MP_EPS",
    "SILU_STD",
    "MPConv1d",
    "fold_weight",
    "mp_silu",
    "mp_sum",
    "pixel_norm",
]

SILU_STD = 0.596
"""Root mean square of silu(x) for x ~ N(0, 1) (to three digits, as the paper uses it): its expected magnitude."""

MP_EPS = 1e-4
"""ε of the norms (pixel norm and weight normalisation)."""


def mp_silu(x: Tensor) -> Tensor:
    """SiLU scaled back to unit magnitude (mean square 1 for unit-Gaussian input): silu(x) / 0.596, any shape."""
    return F.silu(x) / SILU_STD


def mp_sum(a: Tensor, b: Tensor, t: float = 0.5) -> Tensor:
    """((1 − t)·a + t·b) / sqrt((1 − t)² + t²): unit variance from two unit-variance, independent signals."""
    return a.lerp(b, t) / math.sqrt((1 - t) ** 2 + t**2)


def _rms(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    count = math.prod(x.shape[d] for d in dims)
    return torch.linalg.vector_norm(x, dim=dims, keepdim=True) / math.sqrt(count)


def pixel_norm(x: Tensor, dim: int = 1, eps: float = MP_EPS) -> Tensor:
    """x / (ε + rms of x over ``dim``): each position's channel vector brought to unit mean square."""
    return x / (eps + _rms(x, (dim,)))


def fold_weight(weight: Tensor, eps: float = MP_EPS) -> Tensor:
    """A trained weight (out, in, k…) with its normalisation folded in: w_i / (ε + rms(w_i)) / sqrt(fan_in).

    rms(w_i) = ‖w_i‖ / sqrt(fan_in), fan_in = in · k; the result has rows of (almost exactly) unit norm.
    Computed in float64 and returned in the weight's dtype.
    """
    dims = tuple(range(1, weight.dim()))
    fan_in = math.prod(weight.shape[1:])
    w = weight.double()
    return (w / (eps + _rms(w, dims)) / math.sqrt(fan_in)).to(weight.dtype)


class MPConv1d(nn.Module):
    """A magnitude-preserving 1-D convolution without bias, its weight already folded (:func:`fold_weight`).

    (B, in, T) → (B, out, T) with "same" padding (kernel // 2 each side, odd kernels); ``gain`` (a number
    or a scalar tensor) scales the weights.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"MPConv1d needs an odd kernel, got {kernel_size}")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(in_channels * kernel_size))
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, gain: Tensor | float = 1.0) -> Tensor:
        weight = self.weight if isinstance(gain, float) and gain == 1.0 else self.weight * gain
        return F.conv1d(x, weight.to(x.dtype), padding=self.padding)
