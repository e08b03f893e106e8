"""The MM-DiT's speed-ups change no result: fused multiply-adds, SiLU once, conditions prepared once a sampling."""

from __future__ import annotations

import pickle

import pytest
import torch

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures
from foleyzoo.mmdit import MMDiT
from foleyzoo.mmdit.attention import SDPAAttention
from foleyzoo.mmdit.blocks import (
    FinalLayer,
    SingleBlock,
    Stream,
    gated_residual,
    modulate,
    normalize_and_rotate,
)
from foleyzoo.mmdit.rope import TimeRotary, apply_rotary, token_times
from foleyzoo.samplers import EulerSampler
from foleyzoo.samplers.guidance import guided_velocity

SMALL = dict(
    latent_dim=6,
    latent_rate=12.5,
    visual_dim=10,
    visual_rate=4.0,
    text_dim=12,
    sync_dim=8,
    hidden=32,
    heads=4,
    joint_blocks=2,
    single_blocks=1,
    mlp_ratio=2.0,
    frequency_dim=16,
)


def small_model() -> MMDiT:
    """A small MMDiT in float64 with its zero-initialised layers given random values."""
    torch.manual_seed(0)
    model = MMDiT(**SMALL).double()
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0, 0.2)
    return model.eval()


def small_conditions(batch: int = 2, seed: int = 1) -> Conditions:
    """Two seconds of conditions, text padded in the first row, sync dropped in the last row."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    text_mask = torch.ones(batch, 5, dtype=torch.bool)
    text_mask[0, 3:] = False
    sync_mask = torch.ones(batch, 16, dtype=torch.bool)
    sync_mask[-1] = False
    return Conditions(
        text=TextFeatures(rand(batch, 5, 12), text_mask, rand(batch, 12)),
        visual=FrameFeatures(rand(batch, 8, 10), 4.0),
        sync=FrameFeatures(rand(batch, 16, 8), 8.0, sync_mask),
    )


def latents(batch: int = 2, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, 25, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class CountingPrepare:
    """Counts the calls of a model's ``prepare`` (the work a sampler should do once)."""

    def __init__(self, model: MMDiT) -> None:
        self.calls, self.original = 0, model.prepare
        model.prepare = self  # type: ignore[method-assign]

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.original(*args, **kwargs)


def test_fused_multiply_adds_equal_the_written_out_formulas() -> None:
    x, shift, scale, gate = (torch.randn(2, 5, 8, dtype=torch.float64) for _ in range(4))
    torch.testing.assert_close(modulate(x, shift[:, :1], scale[:, :1]), x * (1 + scale[:, :1]) + shift[:, :1])
    torch.testing.assert_close(gated_residual(x, gate, scale), x + gate * scale)


@pytest.mark.parametrize("rotate", [True, False])
def test_normalize_and_rotate_equals_rmsnorm_then_rotary(rotate: bool) -> None:
    """The folded QK-norm + RoPE gives the unfused result and gradients (float64: to rounding)."""
    torch.manual_seed(0)
    norm = torch.nn.RMSNorm(8, eps=1e-6).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    angles = (torch.arange(5, dtype=torch.float64)[:, None] * torch.rand(4, dtype=torch.float64)).repeat(1, 2)
    rotary = (angles.cos(), angles.sin()) if rotate else None
    qkv = torch.randn(2, 5, 3, 4, 8, dtype=torch.float64, requires_grad=True)
    q = qkv.permute(2, 0, 3, 1, 4)[0]  # the strided view the block passes
    fused = normalize_and_rotate(q, norm, rotary)
    plain = norm(q)  # RMSNorm, then the rotation written out, all in float64
    if rotary is not None:
        plain = plain * rotary[0] + torch.cat([-plain[..., 4:], plain[..., :4]], dim=-1) * rotary[1]
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(fused)
    fused_grads = torch.autograd.grad(fused, [qkv, norm.weight], grad)
    plain_grads = torch.autograd.grad(plain, [qkv, norm.weight], grad)
    for a, b in zip(fused_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_silu_given_once_equals_silu_computed_by_each_block() -> None:
    torch.manual_seed(0)
    block, final = SingleBlock(16, 2, 2.0).double(), FinalLayer(16, 3).double()
    with torch.no_grad():
        for parameter in [*block.parameters(), *final.parameters()]:
            parameter.normal_(0, 0.3)
    x, condition = torch.randn(2, 7, 16, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    plain = block(Stream(x, None, condition), SDPAAttention())
    given = block(Stream(x, None, condition, activated=torch.nn.functional.silu(condition)), SDPAAttention())
    torch.testing.assert_close(given, plain, rtol=0, atol=0)
    torch.testing.assert_close(
        final(x, condition, torch.nn.functional.silu(condition)), final(x, condition), rtol=0, atol=0
    )


def test_prepared_conditions_change_nothing_and_are_computed_once() -> None:
    model, given = small_model(), small_conditions()
    x = latents()
    counting = CountingPrepare(model)
    with torch.no_grad():
        prepared = model.prepare(given, x)
        reused = [
            model(x * step, torch.full((2,), step / 5, dtype=torch.float64), prepared) for step in range(5)
        ]
        fresh = [model(x * step, torch.full((2,), step / 5, dtype=torch.float64), given) for step in range(5)]
    assert counting.calls == 1  # plain Conditions are prepared inside each forward, never through prepare
    with_grad = model(
        x * 4, torch.full((2,), 4 / 5, dtype=torch.float64), given
    )  # training: plain conditions
    for a, b in zip(reused, fresh, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(with_grad.detach(), reused[-1], rtol=0, atol=0)


def test_guided_euler_sampling_prepares_once_and_matches_recomputing() -> None:
    model, given = small_model(), small_conditions()
    noise = latents(seed=3)

    def sample(prepare) -> torch.Tensor:
        velocity = guided_velocity(lambda x, t, c: model(x, t, c), given, scale=4.0, prepare=prepare)
        with torch.no_grad():
            return EulerSampler(steps=6).sample(velocity, noise)

    counting = CountingPrepare(model)
    prepared_once = sample(model.prepare)
    assert counting.calls == 1
    torch.testing.assert_close(prepared_once, sample(None), rtol=0, atol=0)
    assert counting.calls == 1


def test_no_host_synchronisation_after_the_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mask checks (``bool(tensor)``) run in ``prepare``: once a sampling, not once a step."""
    model, given = small_model(), small_conditions()
    mask = torch.ones(2, 25, dtype=torch.bool)
    mask[1, 20:] = False
    checks = []
    real_bool = torch.Tensor.__bool__

    def counting_bool(tensor: torch.Tensor) -> bool:
        checks.append(tuple(tensor.shape))
        return real_bool(tensor)

    monkeypatch.setattr(torch.Tensor, "__bool__", counting_bool)
    with torch.no_grad():
        prepared = model.prepare(given, latents(), mask)
        model(latents(), torch.full((2,), 0.1, dtype=torch.float64), prepared, mask)
        first = len(checks)
        for step in range(2, 6):
            model(latents(seed=step), torch.full((2,), step / 6, dtype=torch.float64), prepared, mask)
    assert first > 0 and len(checks) == first


@pytest.mark.parametrize("change", ["mask", "batch", "length"])
def test_prepared_conditions_of_another_shape_or_mask_are_not_used(change: str) -> None:
    model, given = small_model(), small_conditions()
    x, t, mask = latents(), torch.full((2,), 0.5, dtype=torch.float64), None
    with torch.no_grad():
        prepared = model.prepare(given, x)
        if change == "mask":
            mask = torch.ones(2, 25, dtype=torch.bool)
            mask[0, 15:] = False
        elif change == "batch":
            given = Conditions(
                text=TextFeatures(given.text.tokens[:1], given.text.mask[:1], given.text.pooled[:1]),
                visual=FrameFeatures(given.visual.values[:1], 4.0),
                sync=FrameFeatures(given.sync.values[:1], 8.0, given.sync.mask[:1]),
            )
            prepared = model.prepare(given, x)
            x, t = x[:1], t[:1]
        else:
            x = x[:, :20]
        after = model(x, t, prepared, mask)
        expected = model(x, t, given, mask)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_the_network_keeps_no_state_between_calls() -> None:
    model, given = small_model(), small_conditions()
    before = dict(vars(model))
    with torch.no_grad():
        model(latents(), torch.full((2,), 0.5, dtype=torch.float64), given)
        model.prepare(given, latents())
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[key] is value for key, value in before.items() if not key.startswith("_"))
    restored = pickle.loads(pickle.dumps(model))
    torch.testing.assert_close(restored.state_dict()["visual_in.weight"], model.visual_in.weight)


def test_the_parameter_layout_is_unchanged() -> None:
    """Checkpoints of the network before the speed-ups load: the same parameter names and shapes."""
    model = MMDiT(**SMALL)
    names = {name for name, _ in model.named_parameters()}
    expected_block = {
        "qkv.weight",
        "qkv.bias",
        "q_norm.weight",
        "k_norm.weight",
        "modulation.weight",
        "modulation.bias",
        "out.weight",
        "out.bias",
        "mlp.0.weight",
        "mlp.0.bias",
        "mlp.2.weight",
        "mlp.2.bias",
    }
    assert {f"single.0.layers.{name}" for name in expected_block} <= names
    assert {f"joint.0.layers.1.{name}" for name in expected_block} <= names
    assert model.joint[0].layers[0].qkv.weight.shape == (3 * 32, 32)
    assert model.joint[0].layers[0].modulation.weight.shape == (6 * 32, 32)
    fresh = MMDiT(**SMALL)
    fresh.load_state_dict(model.state_dict())  # strict


@pytest.mark.parametrize(
    "sampler_name", ["EulerSampler", "MidpointSampler", "HeunSampler", "DPMSolverSampler"]
)
def test_samplers_never_read_a_tensor_back_to_the_host(
    monkeypatch: pytest.MonkeyPatch, sampler_name: str
) -> None:
    """On CUDA each of these would wait for the queued work; the sampler loops must not call them."""
    import foleyzoo.samplers as samplers

    def refuse(*args, **kwargs):
        raise AssertionError("a host synchronisation inside the sampler loop")

    for name in ("__bool__", "__float__", "__int__", "item", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    sampler = getattr(samplers, sampler_name)(steps=5)
    out = sampler.sample(lambda x, t: -x * t[:, None], torch.ones(3, 2))
    monkeypatch.undo()
    assert torch.isfinite(out).all()


def test_conditions_prepared_under_autocast_equal_the_forward_under_autocast() -> None:
    model, given = small_model().float(), small_conditions().to(torch.float32)
    x, t = latents().float(), torch.full((2,), 0.5)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(x, t, model.prepare(given, x))
        expected = model(x, t, given)
    torch.testing.assert_close(mixed, expected, rtol=0, atol=0)


def test_the_rolled_rotary_equals_negate_and_concatenate() -> None:
    rotary = TimeRotary(8, rate=12.5).angles(token_times(6, 12.5))
    x = torch.randn(2, 3, 6, 8)
    expected = x * rotary[0] + torch.cat([-x[..., 4:], x[..., :4]], dim=-1) * rotary[1]
    torch.testing.assert_close(apply_rotary(x, rotary), expected, rtol=1e-6, atol=1e-6)
