"""MM-DiT speed at the tiny recipe's shape and at MMAudio-S-16k's: forward and training step, FLOPs and MFU.

    python benchmarks/train_step.py [--shapes tiny s16k] [--repeats 3] [--compile] [--threads N] [--batch 16 32] \
        [--json benchmarks/results/train_step.json]

For each shape: a forward pass (no gradients) and a training step (forward, flow-matching loss, backward,
AdamW step; once with PyTorch's default AdamW, once fused as kling-tiny trains) on random inputs in fp32,
timed best of ``--repeats`` after a warm-up; samples/s, tokens/s
(audio + visual + text tokens the transformer processes), peak resident memory of the step, FLOPs per
call counted with torch.utils.flop_counter (matrix products and attention), and the model FLOP
utilisation (MFU) against the fp32 matrix-multiply peak measured at the start and end of the same run.
``--compile`` adds a forward row for the network under torch.compile (``--compile-train`` a training
step too; compiling takes minutes on a 2-core CPU, reported on its own).
Prints a table and writes JSON with every setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
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
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    shape_from_recipe,
    summary,
    synchronizer,
    time_calls,
    write_json,
)

from foleyzoo.mmdit import MMDiT
from foleyzoo.training.objective import flow_matching_loss, interpolate

TINY_RECIPE = REPO_ROOT / "recipes" / "kling-tiny.yaml"


def shapes(
    names: list[str], batches: list[int] | None = None, patches: list[int] | None = None
) -> list[NetworkShape]:
    """The shapes to measure by name: ``tiny`` (recipes/kling-tiny.yaml) and ``s16k`` (MMAudio-S-16k), at
    their own batch size or at each of ``batches`` (named ``<shape> b<batch>``), and with their own audio
    patch or each of ``patches`` latent frames a token (named ``<shape> p<patch>``)."""
    known = {"tiny": lambda: shape_from_recipe(TINY_RECIPE, name="kling-tiny"), "s16k": lambda: S16K}
    chosen = [known[name]() for name in names]
    if batches:
        chosen = [
            dataclasses.replace(shape, name=f"{shape.name} b{batch}", batch=batch)
            for shape in chosen
            for batch in batches
        ]
    if patches:
        chosen = [
            dataclasses.replace(shape, name=f"{shape.name} p{patch}", patch=patch)
            for shape in chosen
            for patch in patches
        ]
    return chosen


def build(shape: NetworkShape, device: torch.device, attention: str = "sdpa") -> MMDiT:
    """An MM-DiT of ``shape`` with seeded random weights (the zero-initialised adaLN layers too)."""
    torch.manual_seed(0)
    model = MMDiT(**shape.mmdit_kwargs(), attention=attention).to(device)
    with torch.no_grad():  # zero gates would let autograd skip nothing, but keep the outputs realistic
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0, 0.02)
    return model


def forward_call(model: torch.nn.Module, inputs: tuple) -> Callable[[], Any]:
    """One forward pass without gradients."""
    x, t, conditions = inputs

    def run() -> Any:
        with torch.no_grad():
            return model(x, t, conditions)

    return run


def train_call(model: torch.nn.Module, inputs: tuple, optimizer: torch.optim.Optimizer) -> Callable[[], Any]:
    """One training step: interpolate noise and data, predict the velocity, flow-matching loss, backward, AdamW."""
    data, t, conditions = inputs
    noise = torch.randn_like(data)
    x_t = interpolate(noise, data, t)

    def run() -> Any:
        optimizer.zero_grad(set_to_none=True)
        loss = flow_matching_loss(model(x_t, t, conditions), noise, data, None)
        loss.backward()
        optimizer.step()
        return loss

    return run


def measure(
    name: str,
    call: Callable[[], Any],
    flops: int,
    shape: NetworkShape,
    repeats: int,
    sync: Callable[[], None],
) -> dict[str, Any]:
    """Time ``call`` (best of ``repeats`` after one warm-up), with its peak resident memory."""
    reset_peak_rss()
    before = rss_bytes()
    seconds = summary(time_calls(call, repeats=repeats, warmup=1, synchronize=sync))
    best = seconds["best_s"]
    return {
        "shape": shape.name,
        "mode": name,
        "batch": shape.batch,
        **seconds,
        "samples_per_s": shape.batch / best,
        "tokens_per_s": shape.batch * shape.tokens / best,
        "flops": flops,
        "achieved_flops_per_s": flops / best,
        "rss_before_bytes": before,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def run_shape(
    shape: NetworkShape, device: torch.device, repeats: int, compile_forward: bool, compile_train: bool
) -> list[dict[str, Any]]:
    """Forward and training-step rows for one shape (and torch.compile variants where asked)."""
    sync = synchronizer(device)
    rows = []
    variants = [("eager", False)] + ([("compiled", True)] if compile_forward or compile_train else [])
    for label, compiled in variants:
        model = build(shape, device)
        inputs = make_inputs(shape, device)
        forward_flops, forward_ops = count_flops(forward_call(model, inputs))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        train_flops, train_ops = count_flops(train_call(model, inputs, optimizer))
        runner = torch.compile(model) if compiled else model
        timed = [("forward", forward_call(runner, inputs), forward_flops, forward_ops)]
        if not compiled or compile_train:
            timed.append(("train step", train_call(runner, inputs, optimizer), train_flops, train_ops))
        if not compiled:  # kling-tiny's fused AdamW: one kernel for every parameter instead of a loop
            fused = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
            step = train_call(runner, inputs, fused)
            timed.append(("train step, fused AdamW", step, train_flops, train_ops))
        for mode, call, flops, per_op in timed:
            start = time.perf_counter()
            call()  # for a compiled network this compiles; measure()'s warm-up then runs compiled code
            sync()
            first_call_s = time.perf_counter() - start
            row = measure(f"{mode} ({label})", call, flops, shape, repeats, sync)
            row["first_call_s"] = first_call_s
            row["flops_by_op"] = per_op
            row["parameters"] = sum(p.numel() for p in model.parameters())
            rows.append(row)
        del model, optimizer, runner
    return rows


def table(rows: list[dict[str, Any]], peak: float) -> str:
    """The markdown table of the rows, MFU against ``peak`` FLOP/s."""
    body = [
        [
            row["shape"],
            row["mode"],
            row["batch"],
            f"{row['best_s'] * 1e3:.1f}",
            f"{row['samples_per_s']:.2f}",
            f"{row['tokens_per_s']:,.0f}",
            f"{row['flops'] / 1e9:.1f}",
            f"{row['achieved_flops_per_s'] / 1e9:.1f}",
            f"{row['mfu'] * 100:.1f} %",
            f"{row['peak_rss_bytes'] / 2**20:,.0f}",
        ]
        for row in rows
    ]
    headers = [
        "shape",
        "mode",
        "batch",
        "ms / call",
        "samples / s",
        "tokens / s",
        "GFLOP / call",
        "GFLOP/s",
        "MFU",
        "peak RSS MiB",
    ]
    return markdown_table(headers, body, right=set(range(2, len(headers))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["tiny", "s16k"], choices=["tiny", "s16k"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also a forward under torch.compile")
    parser.add_argument(
        "--compile-train", action="store_true", help="also a training step under torch.compile"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--batch", type=int, nargs="+", default=None, help="batch sizes to time (default: each shape's own)"
    )
    parser.add_argument(
        "--patch",
        type=int,
        nargs="+",
        default=None,
        help="latent frames an audio token (default: each shape's)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=RESULTS / "train_step.json")
    options = parser.parse_args()
    host = machine()  # before the run: the load average then says how busy the machine was
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    peak_start = matmul_peak(device)
    rows = []
    for shape in shapes(options.shapes, options.batch, options.patch):
        rows += run_shape(shape, device, options.repeats, options.compile, options.compile_train)
    peak_end = matmul_peak(device)
    peak = max(peak_start["flops_per_s"], peak_end["flops_per_s"])
    for row in rows:
        row["mfu"] = mfu(row["flops"], row["best_s"], peak)
    print(
        f"fp32 matmul peak: {peak / 1e9:.1f} GFLOP/s "
        f"(start {peak_start['flops_per_s'] / 1e9:.1f}, end {peak_end['flops_per_s'] / 1e9:.1f})\n"
    )
    print(table(rows, peak))
    for shape in shapes(options.shapes, options.batch, options.patch):
        eager = {row["mode"]: row for row in rows if row["shape"] == shape.name}
        ratio = eager["train step (eager)"]["best_s"] / eager["forward (eager)"]["best_s"]
        line = f"\n{shape.name}: a training step takes {ratio:.2f}x a forward pass"
        if "train step, fused AdamW (eager)" in eager:
            fused = eager["train step (eager)"]["best_s"] / eager["train step, fused AdamW (eager)"]["best_s"]
            line += f"; with fused AdamW the step is {fused:.2f}x faster"
        for mode in ("forward", "train step"):
            if f"{mode} (compiled)" in eager:
                compiled = eager[f"{mode} (compiled)"]
                speedup = eager[f"{mode} (eager)"]["best_s"] / compiled["best_s"]
                line += (
                    f"; torch.compile: {mode} {speedup:.2f}x eager "
                    f"(first call, compiling, {compiled['first_call_s']:.0f} s)"
                )
        print(line)
    result = {
        "settings": {**vars(options), "dtype": "float32"},
        "machine": {**host, "load_average_at_end": machine()["load_average_1_5_15_min"]},
        "matmul_peak": {"start": peak_start, "end": peak_end, "used_flops_per_s": peak},
        "shapes": {shape.name: shape for shape in shapes(options.shapes, options.batch, options.patch)},
        "rows": rows,
    }
    print(f"wrote {write_json(options.json, result)}")


if __name__ == "__main__":
    main()
