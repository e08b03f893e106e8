"""The pan law: gains keep the downmix and the constant-power ratio; bins' positions read back exactly."""

from __future__ import annotations

import math

import pytest
import torch

from foleyzoo.renderers.pan import apply_pan, pan_gains, pan_of_stereo


def test_gains_average_to_one_and_follow_the_constant_power_ratio() -> None:
    position = torch.linspace(0.05, 0.95, 19)
    left, right = pan_gains(position)
    assert torch.allclose((left + right) / 2, torch.ones_like(position), atol=1e-6)
    assert torch.allclose(right / left, torch.tan(position * math.pi / 2), rtol=1e-5)
    assert left[0] > 1.5 > 0.5 > right[0] and right[-1] > 1.5 > 0.5 > left[-1]


def test_centre_is_dual_mono() -> None:
    left, right = pan_gains(torch.tensor([0.5]))
    assert torch.allclose(left, torch.ones(1)) and torch.allclose(right, torch.ones(1))


def test_positions_read_back_from_the_rendered_pair() -> None:
    generator = torch.Generator().manual_seed(0)
    mono = torch.randn(2, 1, 8, 5, generator=generator)
    position = torch.rand(2, 8, 5, generator=generator) * 0.9 + 0.05
    stereo = apply_pan(mono, position)
    assert stereo.shape == (2, 2, 8, 5)
    assert torch.allclose(pan_of_stereo(stereo), position, atol=1e-5)
    assert torch.allclose(stereo.exp().mean(dim=1), mono[:, 0].exp(), rtol=1e-5)


@pytest.mark.parametrize("extreme", [0.0, 1.0])
def test_hard_pans_stay_finite(extreme: float) -> None:
    stereo = apply_pan(torch.zeros(1, 1, 2, 2), torch.full((1, 2, 2), extreme))
    assert torch.isfinite(stereo).all()
