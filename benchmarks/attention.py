"""The MM-DiT's attention backends side by side at the tiny recipe's and MMAudio-S-16k's shapes.

    python benchmarks/attention.py [--repeats 5] [--device cpu] [--json benchmarks/results/attention.json]

For each shape, the joint attention (audio + visual + text tokens) and the single blocks' attention (audio
tokens alone) at the training batch, without a mask and with key padding (a quarter of the keys masked,
one row with every key masked, as guidance dropout gives): forward, and forward + backward, timed best
of ``--repeats``. Each backend's output is compared with a float64 reference (max abs error). FLOPs are
counted with torch.utils.flop_counter; GFLOP/s is relative to the fp32 matmul peak measured in the run.
Backends the machine cannot run (xformers without CUDA) are listed with the reason, not faked.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
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
    markdown_table,
    matmul_peak,
    mfu,
    shape_from_recipe,
    summary,
    synchronizer,
    time_calls,
    write_json,
)
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from foleyzoo.api import AttentionBackend
from foleyzoo.mmdit.attention import ATTENTION_BACKENDS, SDPAAttention


@dataclass(frozen=True)
class AttentionCase:
    """One attention call: batch, heads, query/key length, head size, and whether keys are padded."""

    name: str
    batch: int
    heads: int
    length: int
    head_dim: int
    masked: bool

    def flops_forward(self) -> int:
        """2 · B · H · L² · D for QKᵀ and the same for the weighted sum of V."""
        return 4 * self.batch * self.heads * self.length**2 * self.head_dim


class _SDPAMath(SDPAAttention):
    """SDPA restricted to PyTorch's math kernel: what ``sdpa`` would cost without a fused kernel."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        with sdpa_kernel(SDPBackend.MATH):
            return super().attend(q, k, v, key_padding_mask)


def cases(shape: NetworkShape) -> list[AttentionCase]:
    """Joint and single-block attention at ``shape``'s training batch, with and without key padding."""
    head_dim = shape.hidden // shape.heads
    result = []
    for where, length in (("joint", shape.tokens), ("single", shape.audio_tokens)):
        for masked in (False, True):
            label = f"{shape.name} {where} L={length}" + (" padded" if masked else "")
            result.append(AttentionCase(label, shape.batch, shape.heads, length, head_dim, masked))
    return result


def inputs(case: AttentionCase, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """Random q, k, v (B, H, L, D) and the key mask (B, L) or None."""
    generator = torch.Generator().manual_seed(0)
    size = (case.batch, case.heads, case.length, case.head_dim)
    q, k, v = (torch.randn(size, generator=generator).to(device, dtype) for _ in range(3))
    mask = None
    if case.masked:
        mask = torch.ones(case.batch, case.length, dtype=torch.bool)
        mask[:, -case.length // 4 :] = False
        mask[-1] = False  # a row with every key masked: guidance's dropped condition
        mask = mask.to(device)
    return q, k, v, mask


def reference(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """The attention in float64, written out (rows with no valid key give zeros, as every backend does)."""
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v


def backends(device: torch.device) -> dict[str, AttentionBackend | str]:
    """Every registered backend (or the reason it cannot run here), and SDPA on its math kernel."""
    found: dict[str, AttentionBackend | str] = {}
    for name, cls in ATTENTION_BACKENDS.items():
        reason = cls.availability(device)
        found[name] = reason if reason is not None else cls()
    found["sdpa (math kernel)"] = _SDPAMath()
    return found


def measure_case(
    case: AttentionCase,
    backend: AttentionBackend,
    device: torch.device,
    repeats: int,
) -> dict[str, Any]:
    """Forward and forward + backward times, FLOPs and the error against the float64 reference."""
    q, k, v, mask = inputs(case, device, torch.float32)
    sync = synchronizer(device)
    with torch.no_grad():
        out = backend.attend(q, k, v, mask)
    error = (out.double() - reference(q, k, v, mask)).abs().max().item()
    qg, kg, vg = (tensor.clone().requires_grad_(True) for tensor in (q, k, v))
    grad = torch.randn_like(out)

    def forward() -> None:
        with torch.no_grad():
            backend.attend(q, k, v, mask)

    def backward() -> None:
        backend.attend(qg, kg, vg, mask).backward(grad)

    forward_flops, _ = count_flops(forward)
    train_flops, _ = count_flops(backward)
    return {
        "forward": summary(time_calls(forward, repeats=repeats, synchronize=sync)),
        "forward_backward": summary(time_calls(backward, repeats=repeats, synchronize=sync)),
        "forward_flops": forward_flops,
        "forward_backward_flops": train_flops,
        "max_abs_error": error,
    }


def run(
    shapes: list[NetworkShape], device: torch.device, repeats: int, peak: float
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows of every (case, runnable backend), and the backends that cannot run with the reason."""
    rows, unavailable = [], {}
    found = backends(device)
    for name, backend in found.items():
        if isinstance(backend, str):
            unavailable[name] = backend
    for shape in shapes:
        for case in cases(shape):
            for name, backend in found.items():
                if isinstance(backend, str):
                    continue
                row = {"case": case.name, "backend": name, "analytic_forward_flops": case.flops_forward()}
                row.update(measure_case(case, backend, device, repeats))
                row["forward_mfu"] = mfu(row["forward_flops"], row["forward"]["best_s"], peak)
                row["forward_backward_mfu"] = mfu(
                    row["forward_backward_flops"], row["forward_backward"]["best_s"], peak
                )
                rows.append(row)
    return rows, unavailable


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: a row a (case, backend), times in ms, ratio to sdpa, GFLOP/s share of the peak, error."""
    sdpa = {row["case"]: row for row in rows if row["backend"] == "sdpa"}
    body = []
    for row in rows:
        base = sdpa.get(row["case"])
        ratio = row["forward"]["best_s"] / base["forward"]["best_s"] if base else float("nan")
        ratio_bw = (
            row["forward_backward"]["best_s"] / base["forward_backward"]["best_s"] if base else float("nan")
        )
        body.append(
            [
                row["case"],
                row["backend"],
                f"{row['forward']['best_s'] * 1e3:.2f}",
                f"{ratio:.2f}x",
                f"{row['forward_mfu'] * 100:.0f} %",
                f"{row['forward_backward']['best_s'] * 1e3:.2f}",
                f"{ratio_bw:.2f}x",
                f"{row['forward_backward_mfu'] * 100:.0f} %",
                f"{row['max_abs_error']:.1e}",
            ]
        )
    headers = [
        "case",
        "backend",
        "fwd ms",
        "fwd / sdpa",
        "fwd MFU",
        "fwd+bwd ms",
        "fwd+bwd / sdpa",
        "fwd+bwd MFU",
        "max abs err",
    ]
    return markdown_table(headers, body, right=set(range(2, len(headers))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["tiny", "s16k"], choices=["tiny", "s16k"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=RESULTS / "attention.json")
    options = parser.parse_args()
    host = machine()  # before the run: the load average then says how busy the machine was
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    known = {
        "tiny": lambda: shape_from_recipe(REPO_ROOT / "recipes" / "kling-tiny.yaml", name="kling-tiny"),
        "s16k": lambda: S16K,
    }
    shapes = [known[name]() for name in options.shapes]
    peak = matmul_peak(device)
    rows, unavailable = run(shapes, device, options.repeats, peak["flops_per_s"])
    print(f"fp32 matmul peak: {peak['flops_per_s'] / 1e9:.1f} GFLOP/s\n")
    print(table(rows))
    for name, reason in unavailable.items():
        print(f"\n{name}: unavailable here — {reason}")
    result = {
        "settings": {**vars(options), "dtype": "float32"},
        "machine": {**host, "load_average_at_end": machine()["load_average_1_5_15_min"]},
        "matmul_peak": peak,
        "unavailable": unavailable,
        "rows": rows,
    }
    print(f"wrote {write_json(options.json, result)}")


if __name__ == "__main__":
    main()
