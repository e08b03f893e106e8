"""MMAudioDenoiser equals MMAudio's own network: outputs recorded once with MMAudio's code, compared here.

The goldens (tests/zoo/data, written by ``scripts/compare_mmaudio_denoiser.py record``) hold MMAudio's
outputs for random weights and inputs drawn from seeds, on tiny configurations of every block type (v1
at 16 kHz, v2 at 44.1 kHz; 8, 5 and 10 s) and on two real-width configurations with fewer blocks. Every
parameter is random (MMAudio zero-initialises its adaLN and final layers, which would make a zero output
trivially equal).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.zoo.mmaudio import MMAudioDenoiser, sample_latents
from foleyzoo.zoo.mmaudio.parity import (
    CONFIGS,
    ParityConfig,
    parity_conditions,
    parity_denoiser,
    parity_inputs,
)
from foleyzoo.zoo.testing import random_state_dict, relative_error

DATA = Path(__file__).parent / "data"
FORWARD_TOLERANCE = 1e-4  # relative max-abs error, fp32 (the target)
SAMPLING_TOLERANCE = 1e-3  # after 25 guided Euler steps


@cache
def golden(name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(DATA / f"mmaudio_{name}.safetensors"), "pt") as stored:
        return {key: stored.get_tensor(key) for key in stored.keys()}, stored.metadata()  # noqa: SIM118


@cache
def network(name: str) -> tuple[ParityConfig, MMAudioDenoiser, int]:
    """The configuration, foleyzoo's network with the recorded random weights, and the inputs' seed."""
    _, metadata = golden(name)
    config = CONFIGS[name]
    assert json.loads(metadata["config"]) == config.describe(), "the configuration changed since recording"
    shapes = json.loads(metadata["mmaudio_shapes"])
    state = random_state_dict(shapes, int(metadata["weights_seed"]))
    recorded = float(metadata["weights_fingerprint"])
    regenerated = float(sum(state[key].double().abs().sum() for key in sorted(state)))
    assert regenerated == pytest.approx(recorded, rel=1e-9), (
        "the random weights differ from the recording (torch's random stream changed?): "
        "re-record with scripts/compare_mmaudio_denoiser.py record"
    )
    return config, parity_denoiser(config, state), int(metadata["inputs_seed"])


def forward_cases() -> list[tuple[str, float, str]]:
    cases = []
    for name in CONFIGS:
        tensors, _ = golden(name)
        for key in tensors:
            kind, *rest = key.split("/")
            if kind == "forward":
                cases.append((name, float(rest[0]), rest[1]))
    return cases


@pytest.mark.parametrize(("name", "duration", "scenario"), forward_cases(), ids=lambda value: str(value))
def test_forward_equals_mmaudio(name, duration, scenario):
    """Every variant's block types, any duration, rows and modalities left out: MMAudio's output to 1e-4."""
    config, model, seed = network(name)
    inputs = parity_inputs(config, duration, seed=seed)
    expected = golden(name)[0][f"forward/{duration:g}/{scenario}"]
    with torch.no_grad():
        output = model(inputs.x, inputs.t, parity_conditions(inputs, scenario))
        assert output.shape == inputs.x.shape
        assert relative_error(output, expected) <= FORWARD_TOLERANCE
        if scenario in ("text_only", "nothing"):  # a stated duration sizes the absent streams the same way
            stated = model(inputs.x, inputs.t, parity_conditions(inputs, scenario, with_duration=True))
            assert relative_error(stated, expected) <= FORWARD_TOLERANCE


@pytest.mark.parametrize("name", [name for name in CONFIGS if "sample/plain" in golden(name)[0]])
@pytest.mark.parametrize("negative", [False, True], ids=["empty-prompt", "negative-prompt"])
def test_sampling_equals_mmaudio_flow_matching(name, negative):
    """foleyzoo's batched guidance and EulerSampler(25) reproduce MMAudio's FlowMatching.to_data + ode_wrapper."""
    config, model, seed = network(name)
    inputs = parity_inputs(config, 8.0, seed=seed)
    conditions = parity_conditions(inputs, "all")
    negative_text = None
    if negative:
        assert conditions.text is not None
        negative_text = type(conditions.text)(
            tokens=inputs.negative, mask=conditions.text.mask, pooled=inputs.negative.mean(1)
        )
    with torch.no_grad():
        sampled = sample_latents(model, conditions, inputs.x, negative_text=negative_text)
    expected = golden(name)[0]["sample/negative" if negative else "sample/plain"]
    assert relative_error(sampled, expected) <= SAMPLING_TOLERANCE


def test_goldens_are_not_trivial():
    """The recorded outputs depend on what is left out: the random weights exercise every stream."""
    tensors, _ = golden("tiny_v1_16k")
    base = tensors["forward/8/all"]
    for scenario in ("text_only", "no_text", "nothing", "rows"):
        assert relative_error(tensors[f"forward/8/{scenario}"], base) > 1e-2
    assert relative_error(tensors["sample/negative"], tensors["sample/plain"]) > 1e-2


def test_committed_goldens_stay_small():
    assert sum(path.stat().st_size for path in DATA.iterdir()) < 3 * 2**20
