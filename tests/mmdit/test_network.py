"""The MM-DiT: masks, placeholders, sync alignment, rotary time axis and attention backends."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures
from foleyzoo.mmdit import MMDiT, NaiveAttention, SDPAAttention
from foleyzoo.mmdit.network import resample_to_frames
from foleyzoo.mmdit.rope import TimeRotary, apply_rotary

RATE, VISUAL_RATE, SYNC_RATE = 12.5, 4.0, 8.0


SMALL = dict(
    latent_dim=6,
    latent_rate=RATE,
    visual_dim=10,
    visual_rate=VISUAL_RATE,
    text_dim=12,
    sync_dim=8,
    hidden=32,
    heads=4,
    joint_blocks=2,
    single_blocks=1,
    mlp_ratio=2.0,
    frequency_dim=16,
)
"""A small MMDiT's settings, shared by the tests."""


def tiny(patch: int = 1, **overrides) -> MMDiT:
    """A small MMDiT with every zero-initialised weight (adaLN-zero, final layer) given random values."""
    torch.manual_seed(0)
    model = MMDiT(**{**SMALL, "patch": patch, **overrides}).double()
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0, 0.2)
    return model.eval()


def conditions(batch: int = 2, seconds: float = 2.0, seed: int = 1) -> Conditions:
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    visual = int(seconds * VISUAL_RATE)
    sync = int(seconds * SYNC_RATE)
    return Conditions(
        text=TextFeatures(rand(batch, 5, 12), torch.ones(batch, 5, dtype=torch.bool), rand(batch, 12)),
        visual=FrameFeatures(rand(batch, visual, 10), VISUAL_RATE),
        sync=FrameFeatures(rand(batch, sync, 8), SYNC_RATE),
        duration=torch.tensor([[0.0, seconds]] * batch, dtype=torch.float64),
    )


def latents(batch: int = 2, frames: int = 25, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, frames, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("patch", [1, 2])
def test_velocity_has_the_latents_shape_and_depends_on_every_condition(patch: int) -> None:
    model, x, t, given = tiny(patch), latents(), torch.tensor([0.3, 0.7], dtype=torch.float64), conditions()
    out = model(x, t, given)
    assert out.shape == x.shape and torch.isfinite(out).all()
    for name in ("text", "visual", "sync"):
        other = conditions(seed=5)
        changed = Conditions(**{**given.__dict__, name: getattr(other, name)})
        assert not torch.allclose(model(x, t, changed), out), name
    assert not torch.allclose(model(x, t * 0.5, given), out)


@pytest.mark.parametrize("patch", [1, 2])
def test_padding_changes_nothing_for_the_real_frames(patch: int) -> None:
    """A row padded to a longer batch gives the same velocity on its real frames as when it is alone."""
    model, t = tiny(patch), torch.tensor([0.4], dtype=torch.float64)
    given = conditions(batch=1)
    alone = model(latents(batch=1, frames=20), t, given)
    padded_x = torch.cat([latents(batch=1, frames=20), torch.randn(1, 6, 6, dtype=torch.float64)], dim=1)
    mask = torch.zeros(1, 26, dtype=torch.bool)
    mask[:, :20] = True
    padded = model(padded_x, t, given, mask)
    torch.testing.assert_close(padded[:, :20], alone, rtol=1e-9, atol=1e-9)


def test_an_absent_modality_equals_rows_whose_mask_is_all_false() -> None:
    """Leaving a condition out and masking every one of its tokens both use the learnable placeholder."""
    model, x, t, given = tiny(), latents(), torch.tensor([0.2, 0.9], dtype=torch.float64), conditions()
    masked_visual = FrameFeatures(given.visual.values, VISUAL_RATE, torch.zeros(2, 8, dtype=torch.bool))
    masked_sync = FrameFeatures(given.sync.values, SYNC_RATE, torch.zeros(2, 16, dtype=torch.bool))
    masked_text = TextFeatures(given.text.tokens, torch.zeros(2, 5, dtype=torch.bool), given.text.pooled)
    for name, masked in (("visual", masked_visual), ("sync", masked_sync), ("text", masked_text)):
        without = model(x, t, Conditions(**{**given.__dict__, name: None}))
        with_mask = model(x, t, Conditions(**{**given.__dict__, name: masked}))
        torch.testing.assert_close(with_mask, without, rtol=1e-9, atol=1e-9)
        assert not torch.allclose(without, model(x, t, given)), name


def test_text_only_and_video_only_inputs_work() -> None:
    model, x, t, given = tiny(), latents(), torch.tensor([0.5, 0.5], dtype=torch.float64), conditions()
    text_only = model(x, t, Conditions(text=given.text))
    video_only = model(x, t, Conditions(visual=given.visual, sync=given.sync))
    assert torch.isfinite(text_only).all() and torch.isfinite(video_only).all()
    assert not torch.allclose(text_only, video_only)


def test_a_row_dropped_in_one_batch_row_leaves_the_other_row_alone() -> None:
    model, x, t, given = tiny(), latents(), torch.tensor([0.5, 0.5], dtype=torch.float64), conditions()
    mask = torch.tensor([[True] * 16, [False] * 16])
    dropped = Conditions(**{**given.__dict__, "sync": FrameFeatures(given.sync.values, SYNC_RATE, mask)})
    full, partial = model(x, t, given), model(x, t, dropped)
    torch.testing.assert_close(partial[0], full[0], rtol=1e-9, atol=1e-9)
    assert not torch.allclose(partial[1], full[1])


def test_sync_features_reach_the_audio_frame_shown_at_the_same_time() -> None:
    """Resampling takes, for each latent frame, the sync feature at the frame's centre time."""
    sync = torch.arange(16, dtype=torch.float64).reshape(1, 16, 1)  # 8 fps: frame k covers [k/8, (k+1)/8)
    aligned = resample_to_frames(sync, SYNC_RATE, frames=25, frame_rate=RATE)
    centres = (torch.arange(25, dtype=torch.float64) + 0.5) / RATE
    assert aligned[0, :, 0].tolist() == (centres * SYNC_RATE).floor().tolist()


def test_linear_resampling_reads_between_the_two_nearest_feature_centres() -> None:
    """Feature k sits at its frame's centre (k + 0.5)/fps; a ramp comes back as the time in frames, ends held."""
    sync = torch.arange(16, dtype=torch.float64).reshape(1, 16, 1)
    aligned = resample_to_frames(sync, SYNC_RATE, frames=25, frame_rate=RATE, mode="linear")
    centres = (torch.arange(25, dtype=torch.float64) + 0.5) / RATE
    expected = (centres * SYNC_RATE - 0.5).clamp(0, 15)
    torch.testing.assert_close(aligned[0, :, 0], expected)
    assert not torch.equal(aligned, resample_to_frames(sync, SYNC_RATE, frames=25, frame_rate=RATE))
    with pytest.raises(ValueError, match="sync_resampling"):
        tiny(sync_resampling="cubic")


def test_sync_changes_in_one_second_move_the_velocity_there_most() -> None:
    """Sync enters each audio token's modulation: a change late in the clip acts most on late frames."""
    model, x, t, given = (
        tiny(joint_blocks=1, single_blocks=0),
        latents(),
        torch.tensor([0.5, 0.5]),
        conditions(),
    )
    t = t.double()
    values = given.sync.values.clone()
    values[:, 12:] += 3.0  # the last 0.5 s of a 2 s clip
    changed = Conditions(**{**given.__dict__, "sync": FrameFeatures(values, SYNC_RATE)})
    delta = (model(x, t, changed) - model(x, t, given)).abs().mean(dim=(0, 2))
    late = (torch.arange(25) + 0.5) / RATE >= 1.5
    assert delta[late].mean() > 5 * delta[~late].mean(), delta


def _with_identity_blocks(model: MMDiT) -> MMDiT:
    """``model`` with every adaLN modulation zeroed (as at initialisation): blocks pass tokens through and
    the final layer reads the audio tokens as they entered, untouched by any per-token modulation."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "modulation" in name:
                parameter.zero_()
    return model


@pytest.mark.parametrize("patch", [1, 2])
def test_sync_input_adds_the_sync_features_to_the_audio_tokens_at_their_own_time(patch: int) -> None:
    """With ``sync_input`` a sync change in the last 0.5 s reaches exactly the tokens shown then, even with
    every modulation zeroed; without it, through identity blocks, sync cannot reach the output at all."""
    x, t, given = latents(), torch.tensor([0.5, 0.5], dtype=torch.float64), conditions()
    values = given.sync.values.clone()
    values[:, 12:] += 3.0  # the last 0.5 s of a 2 s clip
    changed = Conditions(**{**given.__dict__, "sync": FrameFeatures(values, SYNC_RATE)})
    with_input = _with_identity_blocks(tiny(patch, sync_input=True))
    delta = (with_input(x, t, changed) - with_input(x, t, given)).abs().amax(dim=(0, 2))
    token_centres = (torch.arange(-(-25 // patch)) + 0.5) * patch / RATE
    late_frames = (token_centres >= 1.5).repeat_interleave(patch)[:25]
    assert bool((delta[late_frames] > 1e-3).all()) and bool((delta[~late_frames] == 0).all()), delta
    without_input = _with_identity_blocks(tiny(patch))
    assert torch.equal(without_input(x, t, changed), without_input(x, t, given))


def test_sync_input_adds_nothing_for_rows_without_sync() -> None:
    """A row whose sync mask is all False (dropped for guidance) gets no sync added to its tokens."""
    model = _with_identity_blocks(tiny(sync_input=True))
    x, t, given = latents(), torch.tensor([0.5, 0.5], dtype=torch.float64), conditions()
    dropped = FrameFeatures(given.sync.values, SYNC_RATE, torch.zeros(2, 16, dtype=torch.bool))
    without = Conditions(**{**given.__dict__, "sync": None})
    assert torch.allclose(
        model(x, t, Conditions(**{**given.__dict__, "sync": dropped})), model(x, t, without), atol=1e-12
    )


def test_rotary_angles_depend_on_time_difference_and_share_one_axis() -> None:
    rotary = TimeRotary(head_dim=8, rate=RATE)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(q_time: float, k_time: float) -> float:
        rq = apply_rotary(q, rotary.angles(torch.tensor([q_time])))
        rk = apply_rotary(k, rotary.angles(torch.tensor([k_time])))
        return float((rq * rk).sum())

    assert score(0.3, 0.1) == pytest.approx(score(1.3, 1.1), rel=1e-4)
    assert score(0.3, 0.1) != pytest.approx(score(0.3, 0.2), rel=1e-3)
    audio_frame_10 = rotary.angles(torch.tensor([10 / RATE]))  # 0.8 s
    visual_frame_3 = rotary.angles(torch.tensor([3.2 / VISUAL_RATE]))  # 0.8 s
    torch.testing.assert_close(audio_frame_10, visual_frame_3)


@pytest.mark.parametrize("patch", [1, 2])
def test_attention_backends_give_the_same_velocity(patch: int) -> None:
    """sdpa and the naive reference agree within 1e-5 in fp32, with padding masks on audio and text."""
    model = tiny(patch).float()
    x, t = latents().float(), torch.tensor([0.3, 0.8])
    given = conditions().to(torch.float32)
    given = Conditions(
        text=TextFeatures(
            given.text.tokens, torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool(), given.text.pooled
        ),
        visual=given.visual,
        sync=given.sync,
        duration=given.duration,
    )
    mask = torch.ones(2, 25, dtype=torch.bool)
    mask[1, 18:] = False
    model.attention = SDPAAttention()
    sdpa = model(x, t, given, mask)
    model.attention = NaiveAttention()
    naive = model(x, t, given, mask)
    torch.testing.assert_close(sdpa, naive, rtol=1e-5, atol=1e-5)


def test_features_of_the_wrong_width_are_named() -> None:
    model, x, t, given = tiny(), latents(), torch.tensor([0.5, 0.5], dtype=torch.float64), conditions()
    wide = FrameFeatures(torch.randn(2, 8, 11, dtype=torch.float64), VISUAL_RATE)
    with pytest.raises(ValueError, match="visual features of dimension 10, got features of 11"):
        model(x, t, Conditions(**{**given.__dict__, "visual": wide}))
    with pytest.raises(ValueError, match="6 latent channels, got 5"):
        model(x[..., :5], t, given)


def test_the_network_starts_as_zero_velocity() -> None:
    """adaLN-zero and the zero-initialised output layer: an untrained network predicts no motion."""
    model = MMDiT(**{**SMALL, "joint_blocks": 1})
    out = model(latents().float(), torch.tensor([0.5, 0.5]), conditions().to(torch.float32))
    assert out.abs().max() == 0
