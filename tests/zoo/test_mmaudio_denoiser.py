"""MMAudioDenoiser's behaviour: prepared conditions, absent modalities and rows, lengths, rotary, sampling grid."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures
from foleyzoo.mmdit.rope import apply_rotary
from foleyzoo.samplers import EulerSampler
from foleyzoo.samplers.guidance import guided_velocity
from foleyzoo.zoo.mmaudio import MMAudioDenoiser, PreparedMMAudio, sequence_lengths
from foleyzoo.zoo.mmaudio.layers import half_split_order, rotary_tables, timestep_features
from foleyzoo.zoo.mmaudio.parity import CONFIGS, parity_conditions, parity_inputs
from foleyzoo.zoo.mmaudio.sampling import sample_latents
from foleyzoo.zoo.testing import random_state_dict

CONFIG = CONFIGS["tiny_v1_16k"]


@pytest.fixture(scope="module")
def model() -> MMAudioDenoiser:
    model = MMAudioDenoiser(**CONFIG.architecture()).eval()
    shapes = {key: value.shape for key, value in model.state_dict().items()}
    model.load_state_dict(random_state_dict(shapes, seed=3))
    return model


@pytest.fixture
def inputs():
    return parity_inputs(CONFIG, 2.0, batch=2, seed=11)


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float = 1e-5) -> bool:
    return float((a - b).abs().max() / b.abs().max()) <= tolerance


@torch.no_grad()
def test_prepared_conditions_give_the_same_velocity(model, inputs):
    conditions = parity_conditions(inputs, "rows")
    prepared = model.prepare(conditions)
    assert isinstance(prepared, PreparedMMAudio) and isinstance(prepared, Conditions)
    assert prepared.clip.shape == (2, 16, CONFIG.hidden) and prepared.sync_tokens.shape == (
        2,
        40,
        CONFIG.hidden,
    )
    assert torch.equal(model(inputs.x, inputs.t, prepared), model(inputs.x, inputs.t, conditions))
    assert model.prepare(prepared) is prepared


def test_sampling_prepares_once_and_equals_preparing_every_step(model, inputs, monkeypatch):
    calls = []
    original = MMAudioDenoiser.prepare
    monkeypatch.setattr(
        MMAudioDenoiser, "prepare", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    conditions = parity_conditions(inputs, "all")
    noise = torch.randn(inputs.x.shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        once = sample_latents(model, conditions, noise, steps=4)
        assert len(calls) == 1  # one sampling, one prepare
        velocity = guided_velocity(model, conditions, 4.5)  # no prepare: each forward prepares itself
        every_step = EulerSampler(steps=4).sample(velocity, noise)
    assert len(calls) == 1 and torch.equal(once, every_step)
    assert not hasattr(model, "_memo")  # the network keeps no state between calls


@torch.no_grad()
def test_a_modality_absent_from_the_batch_equals_every_row_masked_out(model, inputs):
    conditions = parity_conditions(inputs, "all")
    for name in ("visual", "sync", "text"):
        features = getattr(conditions, name)
        rows = features.tokens if isinstance(features, TextFeatures) else features.values
        masked = replace(features, mask=torch.zeros(rows.shape[:2], dtype=torch.bool))
        expected = model(inputs.x, inputs.t, replace(conditions, **{name: None}))
        assert close(model(inputs.x, inputs.t, replace(conditions, **{name: masked})), expected)


@torch.no_grad()
def test_rows_are_independent_and_an_absent_row_gets_the_empty_features(model, inputs):
    """Row 1 of the mixed batch equals row 1 alone with its absent modalities left out (None)."""
    batch = model(inputs.x, inputs.t, parity_conditions(inputs, "rows"))  # row 1: no sync, no text
    alone = replace(parity_inputs(CONFIG, 2.0, batch=2, seed=11))
    single = Conditions(visual=FrameFeatures(alone.clip[1:], 8.0), duration=torch.tensor([[0.0, 2.0]]))
    assert close(model(inputs.x[1:], inputs.t[1:], single), batch[1:])


@torch.no_grad()
def test_with_nothing_prepared_parts_wait_for_the_latents_length_and_broadcast(model):
    prepared = model.prepare(Conditions())
    assert prepared.pending and prepared.clip is None
    x = torch.randn(3, 63, CONFIG.latent_dim)
    t = torch.rand(3)
    out = model(x, t, prepared)
    assert set(prepared.resolved) == {63} and prepared.resolved[63].clip.shape[0] == 1  # one row, broadcast
    for row in range(3):
        assert close(model(x[row : row + 1], t[row : row + 1], Conditions()), out[row : row + 1])
    assert model(x[:, :40], t, prepared).shape == (3, 40, CONFIG.latent_dim)
    assert set(prepared.resolved) == {63, 40}


@torch.no_grad()
def test_text_of_another_length_is_padded_and_its_mask_honoured(model, inputs):
    """Present rows keep their own tokens (padding masked out); absent rows get the 7 empty-prompt tokens."""
    tokens = torch.randn(2, 4, CONFIG.text_dim)
    mask = torch.tensor([[True, True, True, False], [False] * 4])
    conditions = Conditions(
        text=TextFeatures(tokens, mask, tokens.mean(1)), duration=torch.tensor([[0.0, 2.0]] * 2)
    )
    out = model(inputs.x, inputs.t, conditions)
    row0 = Conditions(
        text=TextFeatures(tokens[:1, :3], torch.ones(1, 3, dtype=torch.bool), tokens[:1, :3].mean(1)),
        duration=torch.tensor([[0.0, 2.0]]),
    )
    row1 = Conditions(duration=torch.tensor([[0.0, 2.0]]))
    assert close(model(inputs.x[:1], inputs.t[:1], row0), out[:1])
    assert close(model(inputs.x[1:], inputs.t[1:], row1), out[1:])


@torch.no_grad()
def test_an_all_true_latent_mask_changes_nothing(model, inputs):
    conditions = parity_conditions(inputs, "all")
    mask = torch.ones(inputs.x.shape[:2], dtype=torch.bool)
    assert torch.equal(model(inputs.x, inputs.t, conditions, mask), model(inputs.x, inputs.t, conditions))


@torch.no_grad()
def test_a_last_segment_cut_short_keeps_the_places_of_its_features(model, inputs):
    """40 features are 5 whole segments; the first 37 of them keep their places within their segments."""
    sync = parity_conditions(inputs, "all").sync.values
    assert sync.shape[1] == 40
    assert torch.equal(model._sync_positions(sync[:, :37]), model._sync_positions(sync)[:, :37])
    conditions = parity_conditions(inputs, "all")
    odd = replace(conditions, sync=replace(conditions.sync, values=sync[:, :37]))
    assert torch.isfinite(model(inputs.x, inputs.t, odd)).all()


def test_bad_inputs_are_refused_with_what_was_expected(model, inputs):
    conditions = parity_conditions(inputs, "all")
    with torch.no_grad():
        with pytest.raises(ValueError, match="built for 6 latent channels, got 5"):
            model(inputs.x[..., :5], inputs.t, conditions)
        with pytest.raises(ValueError, match="features of dimension 10, got 9"):
            model(inputs.x, inputs.t, replace(conditions, visual=FrameFeatures(inputs.clip[..., :9], 8.0)))


def test_fine_tuning_reaches_the_learned_placeholders_but_not_the_stored_empty_prompt(model, inputs):
    model.zero_grad()
    model(inputs.x, inputs.t, parity_conditions(inputs, "rows")).square().mean().backward()
    assert model.empty_clip.grad is not None and model.empty_clip.grad.abs().sum() > 0
    assert model.empty_sync.grad is not None and model.empty_text.grad is None
    model.zero_grad()


@pytest.mark.parametrize(
    ("duration", "rate", "expected"),
    [
        (8.0, 31.25, (250, 64, 192)),  # MMAudio's CONFIG_16K
        (8.0, 44100 / 1024, (345, 64, 192)),  # CONFIG_44K
        (5.0, 31.25, (157, 40, 112)),
        (10.0, 44100 / 1024, (431, 80, 240)),
    ],
)
def test_sequence_lengths_follow_mmaudio_for_any_duration(duration, rate, expected):
    lengths = sequence_lengths(duration, rate)
    assert (lengths.latent, lengths.clip, lengths.sync) == expected


def test_sync_features_reach_the_latents_by_nearest_exact_in_float32(model):
    """Index ⌊(i + 0.5) · S/N⌋ with S/N and the product rounded to float32, as torch's upsampling (and MMAudio)."""
    index = model._sync_index(192, 345, torch.device("cpu"))
    scale = torch.tensor(192, dtype=torch.float32) / torch.tensor(345, dtype=torch.float32)
    expected = ((torch.arange(345, dtype=torch.float32) + 0.5) * scale).floor().long().clamp(max=191)
    assert torch.equal(index, expected)
    exact = [min(191, math.floor((i + 0.5) * 192 / 345)) for i in range(345)]
    assert index[57] == 31 and exact[57] == 32  # 57.5 · 192/345 is exactly 32: float32 rounding picks 31
    features = torch.randn(1, 5, 192)
    assert torch.equal(features[..., index], F.interpolate(features, size=345, mode="nearest-exact"))


def test_half_split_rotation_of_reordered_queries_is_the_interleaved_rotation():
    head_dim, length, scaling = 8, 11, 2.5
    q = torch.randn(2, 3, length, head_dim, dtype=torch.float64)
    angles = (
        torch.arange(length, dtype=torch.float64)[:, None]
        * scaling
        / 10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    )
    even, odd = q[..., 0::2], q[..., 1::2]
    interleaved = torch.stack(
        [even * angles.cos() - odd * angles.sin(), even * angles.sin() + odd * angles.cos()], -1
    )
    interleaved = interleaved.flatten(-2)  # MMAudio's rotation, pairs (2i, 2i + 1)
    order = half_split_order(head_dim)
    cos, sin = rotary_tables(length, head_dim, scaling)
    ours = apply_rotary(q[..., order].float(), (cos, sin))
    assert torch.allclose(ours.double(), interleaved[..., order], atol=1e-5)


def test_timestep_features_of_both_generations():
    t = torch.tensor([0.0, 0.37, 1.0])
    v1 = timestep_features(t, 256, 1.0)
    v2 = timestep_features(t, 448, 1e4)
    frequencies = 1e4 / 10000 ** (torch.arange(0, 448, 2, dtype=torch.float64) / 448)
    assert v1.shape == (3, 256) and v2.shape == (3, 448)
    assert torch.allclose(v2[1, :224].double(), (0.37 * frequencies).cos(), atol=2e-3)
    assert torch.equal(v1[0], torch.cat([torch.ones(128), torch.zeros(128)]))


def test_euler_sampler_walks_mmaudio_grid():
    """EulerSampler(steps=25) evaluates at linspace(0, 1, 26)[:-1] and steps by their differences."""
    seen = []
    noise = torch.zeros(2, 3)
    result = EulerSampler(steps=25).sample(lambda x, t: seen.append(t) or torch.ones_like(x), noise)
    grid = torch.linspace(0, 1, 26)
    assert torch.equal(torch.stack([t[0] for t in seen]), grid[:-1])
    assert torch.allclose(result, torch.ones(2, 3))


@torch.no_grad()
@pytest.mark.parametrize("negative", [False, True])
def test_batched_guidance_equals_mmaudio_cfg(model, inputs, negative):
    """guided_velocity(…, 4.5) = 4.5·v(c) + (1 − 4.5)·v(∅), v(∅): empty video, negative or empty prompt."""
    conditions = parity_conditions(inputs, "all")
    negative_text = replace(conditions.text, tokens=inputs.negative) if negative else None
    velocity = guided_velocity(model, conditions, 4.5, negative_text=negative_text)(inputs.x, inputs.t)
    empty = Conditions(text=negative_text, duration=torch.tensor([[0.0, 2.0]] * 2))
    expected = 4.5 * model(inputs.x, inputs.t, conditions) + (1 - 4.5) * model(inputs.x, inputs.t, empty)
    assert close(velocity, expected)


@torch.no_grad()
def test_guidance_branches_share_one_input_projection(model, inputs, monkeypatch):
    """Latents repeated block-wise along the batch (guidance's branches) go through latent_in once."""
    conditions = parity_conditions(inputs, "all")
    seen = []
    monkeypatch.setattr(
        model.latent_in,
        "forward",
        lambda x: seen.append(x.shape[0]) or type(model.latent_in).forward(model.latent_in, x),
    )
    doubled = Conditions(
        visual=FrameFeatures(inputs.clip.repeat(2, 1, 1), 8.0),
        sync=FrameFeatures(inputs.sync.repeat(2, 1, 1), 24.0),
        text=TextFeatures(
            inputs.text.repeat(2, 1, 1), conditions.text.mask.repeat(2, 1), inputs.text.mean(1).repeat(2, 1)
        ),
    )
    out = model(inputs.x.repeat(2, 1, 1), inputs.t.repeat(2), doubled)
    assert seen == [2]  # two rows, not four
    assert close(out[:2], model(inputs.x, inputs.t, conditions)) and close(out[2:], out[:2])
    model(torch.cat([inputs.x, inputs.x.flip(0)]), inputs.t.repeat(2), doubled)
    assert seen[-1] == 4  # different latents: every row


def test_sequence_lengths_are_mmaudios_and_a_short_window_gets_one_sync_segment():
    from foleyzoo.zoo.mmaudio.variants import sequence_lengths

    assert tuple(vars(sequence_lengths(8.0, 31.25)).values()) == (250, 64, 192)
    assert tuple(vars(sequence_lengths(6.0, 31.25)).values()) == (188, 48, 136)
    assert sequence_lengths(0.2, 31.25).sync == 8  # under 16 frames of video: one segment, never negative
