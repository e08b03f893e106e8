"""CUDA checks in one run: attention backends (equality, speed) and bf16 training steps with MFU.

    bash benchmarks/gpu_check.sh                               # on a machine with an NVIDIA GPU
    python benchmarks/gpu_check.py --device cpu --dry-run      # the same code at toy sizes on a CPU

1. The card's bf16 matrix-multiply peak, measured first (square products, best of a few sizes).
2. Attention: ``sdpa`` and ``xformers`` (when installed) against the float64 reference at the joint
   attention of MMAudio-S-16k's and kling.yaml's training shapes, bf16, with and without key padding:
   max abs error (must stay under ``--tolerance``) and forward / forward + backward times.
3. bf16 training steps (autocast, fp32 weights, AdamW) of kling-tiny's network and of kling.yaml's
   width (hidden 1152, 16 heads); when kling.yaml's depth runs out of memory the depth is halved until
   it fits, and the table says which depth ran. Samples/s, tokens/s, peak memory, FLOPs per step
   (torch.utils.flop_counter) and MFU against the peak of step 1. The loss must stay finite.

``--budget-s`` (default 420) skips what would start after that many seconds, so the whole check stays
under 8 minutes. Prints tables, writes JSON, and exits 1 when an equality or finiteness check fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from _common import (
    REPO_ROOT,
    RESULTS,
    S16K,
    NetworkShape,
    count_flops,
    machine,
    make_inputs,
    markdown_table,
    matmul_peak,
    mfu,
    shape_from_recipe,
    summary,
    synchronizer,
    time_calls,
    write_json,
)
from attention import AttentionCase, inputs, reference

from foleyzoo.api import AttentionBackend
from foleyzoo.mmdit import MMDiT
from foleyzoo.mmdit.attention import ATTENTION_BACKENDS
from foleyzoo.training.objective import flow_matching_loss, interpolate

TOY = NetworkShape(
    name="toy",
    latent_dim=4,
    latent_rate=10.0,
    frames=12,
    visual_dim=8,
    visual_rate=4.0,
    visual_tokens=4,
    text_dim=8,
    text_tokens=3,
    sync_dim=8,
    sync_rate=8.0,
    sync_frames=8,
    hidden=32,
    heads=2,
    joint_blocks=2,
    single_blocks=2,
    mlp_ratio=2.0,
    batch=2,
)
"""The dry run's network: every code path of the real check in milliseconds."""


def training_shapes(dry_run: bool) -> list[NetworkShape]:
    """kling-tiny's and kling.yaml's networks at their recipes' training shapes (toy ones for a dry run)."""
    if dry_run:
        return [replace(TOY, name="toy kling-tiny"), replace(TOY, name="toy kling", hidden=48, heads=3)]
    recipes = REPO_ROOT / "recipes"
    return [
        shape_from_recipe(recipes / "kling-tiny.yaml", name="kling-tiny"),
        shape_from_recipe(recipes / "kling.yaml", name="kling"),
    ]


def attention_cases(dry_run: bool) -> list[AttentionCase]:
    """Joint attention at S-16k's and kling.yaml's training shapes (toy sizes for a dry run)."""
    shapes = (
        [TOY] if dry_run else [S16K, shape_from_recipe(REPO_ROOT / "recipes" / "kling.yaml", name="kling")]
    )
    result = []
    for shape in shapes:
        for masked in (False, True):
            label = f"{shape.name} joint L={shape.tokens}" + (" padded" if masked else "")
            result.append(
                AttentionCase(
                    label, shape.batch, shape.heads, shape.tokens, shape.hidden // shape.heads, masked
                )
            )
    return result


def check_attention(
    device: torch.device, dtype: torch.dtype, repeats: int, tolerance: float, dry_run: bool = False
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each runnable backend against the float64 reference: error, forward and forward + backward seconds."""
    sync = synchronizer(device)
    rows, unavailable = [], {}
    for case in attention_cases(dry_run):
        q, k, v, mask = inputs(case, device, dtype)
        expected = reference(q.float(), k.float(), v.float(), mask)
        for name in ("sdpa", "xformers"):
            cls = ATTENTION_BACKENDS[name]
            reason = cls.availability(device)
            if reason is not None:
                unavailable[name] = reason
                continue
            rows.append(
                {"case": case.name, "backend": name}
                | _compare_backend(cls(), (q, k, v, mask), expected, repeats, sync, tolerance)
            )
    return rows, unavailable


def _compare_backend(
    backend: AttentionBackend,
    arguments: tuple,
    expected: torch.Tensor,
    repeats: int,
    sync: Callable[[], None],
    tolerance: float,
) -> dict[str, Any]:
    """One backend's max abs error against ``expected`` and its forward and forward + backward times."""
    q, k, v, mask = arguments
    qg, kg, vg = (tensor.clone().requires_grad_(True) for tensor in (q, k, v))

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return backend.attend(q, k, v, mask)

    def backward() -> None:
        backend.attend(qg, kg, vg, mask).float().sum().backward()

    error = (forward().double() - expected).abs().max().item()
    return {
        "max_abs_error": error,
        "equal": error <= tolerance,
        "forward": summary(time_calls(forward, repeats=repeats, synchronize=sync)),
        "forward_backward": summary(time_calls(backward, repeats=repeats, synchronize=sync)),
    }


def _timed_steps(
    step: Callable[[], torch.Tensor], steps: int, sync: Callable[[], None]
) -> tuple[list[float], list[float]]:
    """Seconds and losses of ``steps`` training steps after one warm-up step."""
    losses: list[float] = []
    seconds = time_calls(lambda: losses.append(step().item()), repeats=steps, warmup=1, synchronize=sync)
    return seconds, losses[1:]


def _train_step(model: MMDiT, batch: tuple, optimizer: torch.optim.Optimizer, device: torch.device):
    """A function running one bf16-autocast training step (flow-matching loss, backward, AdamW) → the loss."""
    data, t, conditions = batch
    noise = torch.randn_like(data)
    x_t = interpolate(noise, data, t)

    def step() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            predicted = model(x_t, t, conditions)
        loss = flow_matching_loss(predicted.float(), noise, data, None)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def train_shape(shape: NetworkShape, device: torch.device, steps: int, peak: float) -> dict[str, Any]:
    """bf16 training steps of ``shape``'s network, halving its depth while it does not fit in memory."""
    sync = synchronizer(device)
    while True:
        try:
            torch.manual_seed(0)
            model = MMDiT(**shape.mmdit_kwargs(), attention="sdpa").to(device)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
            step = _train_step(model, make_inputs(shape, device), optimizer, device)
            flops, _ = count_flops(step)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds, losses = _timed_steps(step, steps, sync)
            break
        except torch.cuda.OutOfMemoryError:
            model = optimizer = step = None  # free before the retry
            torch.cuda.empty_cache()
            if shape.joint_blocks == 1 and shape.single_blocks <= 1:
                raise
            shape = replace(
                shape,
                name=f"{shape.name.split(' (')[0]} (depth reduced)",
                joint_blocks=max(1, shape.joint_blocks // 2),
                single_blocks=shape.single_blocks // 2,
            )
    timing = summary(seconds)
    best = timing["best_s"]
    return {
        "shape": shape,
        "parameters": sum(p.numel() for p in model.parameters()),
        **timing,
        "samples_per_s": shape.batch / best,
        "tokens_per_s": shape.batch * shape.tokens / best,
        "flops": flops,
        "mfu": mfu(flops, best, peak),
        "losses": losses,
        "finite": all(torch.isfinite(torch.tensor(losses)).tolist()),
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
    }


def attention_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            row["case"],
            row["backend"],
            f"{row['max_abs_error']:.1e}",
            "yes" if row["equal"] else "**NO**",
            f"{row['forward']['best_s'] * 1e3:.3f}",
            f"{row['forward_backward']['best_s'] * 1e3:.3f}",
        ]
        for row in rows
    ]
    headers = ["case", "backend", "max abs err", "equal", "fwd ms", "fwd+bwd ms"]
    return markdown_table(headers, body, right={2, 4, 5})


def training_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            row["shape"].name,
            f"{row['shape'].hidden}/{row['shape'].heads}/{row['shape'].joint_blocks}+{row['shape'].single_blocks}",
            f"{row['parameters'] / 1e6:.1f} M",
            row["shape"].batch,
            f"{row['best_s'] * 1e3:.1f}",
            f"{row['samples_per_s']:.1f}",
            f"{row['tokens_per_s']:,.0f}",
            f"{row['mfu'] * 100:.1f} %",
            "—" if row["peak_memory_bytes"] is None else f"{row['peak_memory_bytes'] / 2**30:.1f}",
            "yes" if row["finite"] else "**NO**",
        ]
        for row in rows
    ]
    headers = [
        "network",
        "hidden/heads/depth",
        "params",
        "batch",
        "ms / step",
        "samples / s",
        "tokens / s",
        "MFU (bf16)",
        "peak GiB",
        "finite loss",
    ]
    return markdown_table(headers, body, right=set(range(2, len(headers) - 1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="toy sizes and few repeats (any device)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps a network")
    parser.add_argument("--repeats", type=int, default=10, help="timed attention calls a case")
    parser.add_argument("--tolerance", type=float, default=2e-2, help="max abs error of bf16 attention")
    parser.add_argument("--budget-s", type=float, default=420.0)
    parser.add_argument("--json", type=Path, default=RESULTS / "gpu_check.json")
    options = parser.parse_args(argv)
    device = torch.device(options.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check: CUDA is not available to PyTorch; run it on a GPU machine, or use --device cpu --dry-run"
        )
        return 2
    if options.dry_run:
        options.steps, options.repeats = min(options.steps, 2), min(options.repeats, 2)
    started = time.perf_counter()
    sizes = (128, 256) if options.dry_run else (4096, 8192)
    peak = matmul_peak(device, torch.bfloat16, sizes=sizes)
    print(
        f"bf16 matmul peak: {peak['flops_per_s'] / 1e12:.2f} TFLOP/s ({machine().get('cuda_device', device)})"
    )
    attention_rows, unavailable = check_attention(
        device, torch.bfloat16, options.repeats, options.tolerance, options.dry_run
    )
    print("\n" + attention_table(attention_rows))
    for name, reason in unavailable.items():
        print(f"\n{name}: unavailable — {reason}")
    training_rows, skipped = [], []
    for shape in training_shapes(options.dry_run):
        if time.perf_counter() - started > options.budget_s:
            skipped.append(shape.name)
            continue
        training_rows.append(train_shape(shape, device, options.steps, peak["flops_per_s"]))
    print("\n" + training_table(training_rows))
    for name in skipped:
        print(f"skipped {name}: the {options.budget_s:.0f} s budget was spent")
    failures = [f"attention {row['backend']} on {row['case']}" for row in attention_rows if not row["equal"]]
    failures += [
        f"non-finite loss training {row['shape'].name}" for row in training_rows if not row["finite"]
    ]
    result = {
        "settings": {**vars(options), "json": str(options.json)},
        "machine": machine(),
        "matmul_peak_bf16": peak,
        "attention": attention_rows,
        "unavailable": unavailable,
        "training": training_rows,
        "skipped": skipped,
        "failures": failures,
        "seconds": time.perf_counter() - started,
    }
    print(f"\nwrote {write_json(options.json, result)} in {result['seconds']:.0f} s")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
