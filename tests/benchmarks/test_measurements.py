"""The benchmarks' measuring tools: FLOP counts against analytic ones, MFU, peak, stage timing, shapes."""

from __future__ import annotations

import pytest
import torch
from benchmarks._common import (
    REPO_ROOT,
    S16K,
    StageTimer,
    count_flops,
    mfu,
    peak_rss_bytes,
    reset_peak_rss,
    sampler_overhead,
    shape_from_recipe,
)
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import _common
from foleyzoo.mmdit.attention import SDPAAttention
from foleyzoo.mmdit.blocks import SingleBlock, Stream
from foleyzoo.samplers import EulerSampler


def test_a_linear_layer_counts_two_flops_a_multiply_add() -> None:
    layer = nn.Linear(16, 24)
    flops, per_op = count_flops(lambda: layer(torch.randn(5, 7, 16)))
    assert flops == 2 * 5 * 7 * 16 * 24
    assert per_op == {"addmm": flops}


def test_cpu_attention_is_counted_forward_and_backward() -> None:
    """torch's counter misses SDPA's CPU flash kernel; the benchmarks' mapping counts its matmuls."""
    batch, heads, length, dim = 2, 3, 10, 8
    q, k, v = (torch.randn(batch, heads, length, dim, requires_grad=True) for _ in range(3))
    forward = 4 * batch * heads * length**2 * dim  # QKᵀ and PV
    with FlopCounterMode(display=False) as plain:
        F.scaled_dot_product_attention(q, k, v)
    assert plain.get_total_flops() == 0  # what an MFU without the mapping would miss
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v))[0] == forward
    both, _ = count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())
    assert both == forward + 10 * batch * heads * length**2 * dim  # recomputed QKᵀ + four gradient matmuls


def test_a_single_block_counts_its_analytic_flops() -> None:
    """Per-token adaLN (6h), QKV (3h), output (h), MLP (2·r·h) projections and the attention's two matmuls."""
    batch, length, hidden, heads, ratio = 2, 12, 32, 4, 2.0
    block = SingleBlock(hidden, heads, ratio)
    stream = Stream(torch.randn(batch, length, hidden), None, torch.randn(batch, length, hidden))
    flops, _ = count_flops(lambda: block(stream, SDPAAttention()))
    per_token = 2 * hidden * (6 * hidden + 3 * hidden + hidden + 2 * int(ratio * hidden))
    attention = 4 * batch * length**2 * hidden  # heads · head_dim = hidden
    assert flops == batch * length * per_token + attention


def test_mfu_is_achieved_flops_over_the_peak() -> None:
    assert mfu(3e12, 2.0, 3e12) == pytest.approx(0.5)
    assert mfu(1e9, 0.01, 1e12) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        mfu(1e9, 0.0, 1e12)


def test_the_matmul_peak_is_the_best_size_at_its_best_time(monkeypatch: pytest.MonkeyPatch) -> None:
    times = {64: [0.5, 0.25], 128: [1.0, 2.0]}
    monkeypatch.setattr(
        _common, "time_calls", lambda function, **kwargs: times[int(function.__defaults__[0].shape[0])]
    )
    peak = _common.matmul_peak(sizes=(64, 128))
    assert peak["per_size"] == {64: 2 * 64**3 / 0.25, 128: 2 * 128**3 / 1.0}
    assert peak["flops_per_s"] == 2 * 128**3


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_stages_nest_and_a_child_leaves_its_parent_exclusive_time() -> None:
    clock = FakeClock()
    timer = StageTimer(clock=clock)
    with timer.stage("outer"):
        clock.now += 1
        with timer.stage("inner"):
            clock.now += 3
        clock.now += 2
        with timer.stage("inner"):
            clock.now += 4
    assert timer.inclusive == {"outer": 10, "inner": 7}
    assert timer.exclusive == {"outer": 3, "inner": 7}
    assert timer.calls == {"outer": 1, "inner": 2}


def test_the_sampler_overhead_is_what_the_sampler_spends_outside_the_network() -> None:
    """Network forwards cost 5 ticks each, guidance around them 1 tick: 4 Euler steps give 20 + 4 ticks."""
    clock = FakeClock()
    timer = StageTimer(clock=clock)

    def network(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        clock.now += 5
        return -x

    timed_network = timer.wrap(network, "network")

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        clock.now += 1  # the work around the forward pass: concatenation, combination of branches
        return timed_network(x, t)

    original = EulerSampler.sample
    with timer.patched(EulerSampler, "sample", "sampler"):
        EulerSampler(steps=4).sample(guided, torch.ones(2, 3))
    assert EulerSampler.sample is original and "sample" not in vars(EulerSampler)
    overhead = sampler_overhead(timer)
    assert overhead == {
        "sampler_s": 24.0,
        "network_s": 20.0,
        "overhead_s": 4.0,
        "overhead_fraction": 4.0 / 24.0,
        "network_calls": 4,
    }


def test_an_instance_patch_is_removed_afterwards() -> None:
    layer = nn.Linear(2, 2)
    timer = StageTimer()
    with timer.patched(layer, "forward", "layer"):
        layer(torch.randn(1, 2))
    assert "forward" not in vars(layer)
    layer(torch.randn(1, 2))
    assert timer.calls["layer"] == 1


def test_shapes_come_from_the_recipes() -> None:
    tiny = shape_from_recipe(REPO_ROOT / "recipes" / "kling-tiny.yaml")
    assert (tiny.frames, tiny.visual_tokens, tiny.sync_frames, tiny.text_tokens) == (250, 32, 96, 32)
    assert (tiny.hidden, tiny.heads, tiny.joint_blocks, tiny.single_blocks, tiny.batch) == (128, 4, 2, 2, 16)
    kling = shape_from_recipe(REPO_ROOT / "recipes" / "kling.yaml")
    assert (kling.hidden, kling.heads, kling.frames, kling.text_tokens) == (1152, 16, 345, 77)
    assert (kling.sync_rate, kling.sync_frames) == (24.0, 192)  # Synchformer: 25 fps in, 24 features a second
    assert S16K.tokens == 250 + 64 + 77 and S16K.hidden // S16K.heads == 64


def test_peak_resident_memory_sees_a_large_allocation() -> None:
    if not reset_peak_rss():
        pytest.skip("this system cannot reset the peak resident set size")
    before = peak_rss_bytes()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, written so it is resident
    assert peak_rss_bytes() >= before + 48 * 2**20
    del block
