"""random_state_dict: deterministic, non-trivial weights that both sides of an equality test can rebuild."""

from __future__ import annotations

import torch

from foleyzoo.zoo.testing import random_state_dict

SHAPES = {
    "block.qkv.weight": (12, 4),
    "block.qkv.bias": (12,),
    "block.conv.weight": (6, 4, 3),
    "block.q_norm.weight": (4,),
    "latent_std": (1, 1, 5),
    "empty_feat": (3, 4),
}


def test_same_seed_same_weights_and_each_tensor_from_its_name_alone():
    first = random_state_dict(SHAPES, seed=5)
    assert all(torch.equal(first[key], random_state_dict(SHAPES, seed=5)[key]) for key in SHAPES)
    assert not torch.equal(first["block.qkv.weight"], random_state_dict(SHAPES, seed=6)["block.qkv.weight"])
    fewer = random_state_dict({"block.conv.weight": (6, 4, 3)}, seed=5)
    assert torch.equal(fewer["block.conv.weight"], first["block.conv.weight"])


def test_weights_are_non_trivial_at_sensible_scales():
    state = random_state_dict({**SHAPES, "big.weight": (256, 1024)}, seed=0)
    assert all(
        value.dtype == torch.float32 and value.abs().min() >= 0 and value.any() for value in state.values()
    )
    assert (state["latent_std"] >= 0.5).all() and (state["latent_std"] <= 1.5).all()
    assert abs(float(state["block.q_norm.weight"].mean()) - 1.0) < 0.3
    assert abs(float(state["big.weight"].std()) - 1024**-0.5) < 1e-3  # unit gain: N(0, 1/fan_in)
    assert 0.1 < float(state["empty_feat"].std()) < 0.4
