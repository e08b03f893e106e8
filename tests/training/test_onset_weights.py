"""The onset-weighted flow loss: weights that peak at the target's attacks, and a loss that uses them."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.training.objective import flow_matching_loss, onset_weights


def knock_latents(frames: int = 64, attacks: tuple[int, ...] = (10, 40)) -> torch.Tensor:
    """(1, frames, 4) latents of knocks: a jump at each attack, then an exponential decay."""
    latents = torch.zeros(1, frames, 4)
    for start in attacks:
        decay = torch.exp(-torch.arange(frames - start, dtype=torch.float32) / 6.0)
        latents[0, start:] += decay[:, None] * torch.tensor([1.0, -0.5, 0.8, 0.3])
    return latents


def test_the_weights_peak_at_the_attacks_and_the_frame_before_them() -> None:
    weights = onset_weights(knock_latents(), strength=1.0)[0]
    top = set(torch.topk(weights, 6).indices.tolist())
    assert top == {9, 10, 11, 39, 40, 41}  # each attack with its neighbours (spread 1)
    assert float(weights[25]) < 1.2 < 3.0 < float(weights[10])  # a decay weighs little more than 1
    assert torch.all(weights >= 1.0)


def test_the_weights_grow_with_the_strength_and_ignore_the_clips_level() -> None:
    latents = knock_latents()
    weak, strong = onset_weights(latents, 0.5)[0], onset_weights(latents, 2.0)[0]
    assert torch.allclose(strong - 1.0, 4.0 * (weak - 1.0))
    assert torch.allclose(onset_weights(10.0 * latents, 1.0), onset_weights(latents, 1.0), atol=1e-5)


def test_padding_neither_weighs_nor_shifts_the_clips_mean_change() -> None:
    latents = knock_latents(frames=48, attacks=(10,))
    padded = torch.cat([latents, 5.0 * torch.randn(1, 16, 4)], dim=1)
    mask = torch.cat([torch.ones(1, 48), torch.zeros(1, 16)], dim=1).bool()
    inside = onset_weights(padded, 1.0, mask)[0, :47]
    assert torch.allclose(inside, onset_weights(latents, 1.0)[0, :47], atol=1e-5)


def test_the_weighted_loss_is_a_weighted_mean_of_the_frames_errors() -> None:
    generator = torch.Generator().manual_seed(0)
    data, noise = torch.randn(2, 8, 3, generator=generator), torch.randn(2, 8, 3, generator=generator)
    predicted = data - noise
    predicted[0, 2] += 1.0  # one frame wrong by 1 in each of its 3 channels
    weights = torch.ones(2, 8)
    assert float(flow_matching_loss(predicted, noise, data)) == pytest.approx(3 / 48)
    weights[0, 2] = 5.0
    assert float(flow_matching_loss(predicted, noise, data, frame_weights=weights)) == pytest.approx(
        5 * 3 / (3 * 20)
    )
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 4:] = False  # padding: neither its error nor its weight counts
    assert float(flow_matching_loss(predicted, noise, data, mask, weights)) == pytest.approx(5 * 3 / (3 * 16))
    assert float(flow_matching_loss(predicted, noise, data, mask)) == pytest.approx(3 / (3 * 12))
