"""foleyzoo's MMAudioDenoiser and MMAudio's own network side by side in one process: speed, memory, equality.

    PYTHONPATH=path/to/MMAudio python benchmarks/mmaudio_denoiser_speed.py [--variants small_16k large_44k_v2] \
        [--duration 8] [--batch 1] [--repeats 3] [--sampling-repeats 1] [--steps 25] [--device cpu] \
        [--json benchmarks/results/mmaudio_denoiser_speed.json]

Both networks load the same random weights (the released files' keys and shapes, from foleyzoo's
manifest: no download) and get the same inputs. **forward**: one forward pass from raw features, as
``MMAudio.forward(latent, clip_f, sync_f, text_f, t)`` runs it (conditions projected, then the
network) and as ``MMAudioDenoiser`` runs it given new ``Conditions``. **sampling**: ``--steps`` Euler
steps with classifier-free guidance 4.5, as MMAudio's ``generate`` runs them (``preprocess_conditions``,
``get_empty_conditions``, ``FlowMatching.to_data`` with ``ode_wrapper``: two network calls a step) and
as foleyzoo's ``sample_latents`` does (both guidance branches in one batched call, conditions
prepared once). The two are timed in turn, best of ``--repeats`` (``--sampling-repeats``), and their
outputs compared (relative max-abs error) in the same run. Peak memory beside each figure: on CPU the
process's peak resident memory above what was resident before the call (freed heap trimmed first; the
weights of both networks are resident throughout), on CUDA the peak allocated. CUDA runs use bfloat16
unless ``--dtype`` says otherwise. Without MMAudio's code importable only foleyzoo is timed, and the
table says so.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _common import (
    REPO_ROOT,
    RESULTS,
    machine,
    markdown_table,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    write_json,
)
from torch import Tensor

from foleyzoo.zoo.mmaudio import VARIANTS, sample_latents
from foleyzoo.zoo.mmaudio.loader import build_denoiser
from foleyzoo.zoo.mmaudio.manifest import released_file
from foleyzoo.zoo.mmaudio.parity import ParityConfig, ParityInputs, parity_conditions, parity_inputs
from foleyzoo.zoo.testing import random_state_dict

CFG_STRENGTH = 4.5

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
except OSError:  # not glibc: peak memory then also counts heap memory freed earlier and reused
    _LIBC = None


def relative_error(ours: Tensor, theirs: Tensor) -> float:
    theirs64 = theirs.double()
    return float((ours.double() - theirs64).abs().max() / theirs64.abs().max())


def measure(function: Callable[[], Tensor], device: torch.device) -> tuple[float, int, Tensor]:
    """Seconds of one call, its peak memory in bytes (see the module docstring) and its output."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)  # hand freed heap back, so resident memory is live memory before the call
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        reset_peak_rss()
        base = rss_bytes()
    start = time.perf_counter()
    output = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda" else peak_rss_bytes()) - base
    return seconds, max(peak, 0), output


def mmaudio_network(
    variant: str, duration: float, state: dict[str, Tensor], device: torch.device, dtype: torch.dtype
):
    """MMAudio's network of ``variant`` for ``duration`` seconds with ``state``, loaded by its own code."""
    from mmaudio.model.networks import get_my_mmaudio
    from mmaudio.model.sequence_config import SequenceConfig

    spec = VARIANTS[variant]
    lengths = SequenceConfig(
        duration=duration, sampling_rate=spec.sample_rate, spectrogram_frame_rate=spec.hop
    )
    network = get_my_mmaudio(variant)
    network.update_seq_lengths(lengths.latent_seq_len, lengths.clip_seq_len, lengths.sync_seq_len)
    network.load_weights(dict(state))
    return network.to(device, dtype).eval()


def cases(
    variant: str, inputs: ParityInputs, steps: int, network: Any, model: Any
) -> dict[str, dict[str, Callable[[], Tensor]]]:
    """For forward and sampling: the call of each implementation (MMAudio's only where its code is loaded)."""

    def ours_forward() -> Tensor:
        return model(inputs.x, inputs.t, parity_conditions(inputs, "all"))

    def ours_sampling() -> Tensor:
        return sample_latents(model, parity_conditions(inputs, "all"), inputs.x, CFG_STRENGTH, steps)

    found = {"forward": {"foleyzoo": ours_forward}, "sampling": {"foleyzoo": ours_sampling}}
    if network is None:
        return found
    from mmaudio.model.flow_matching import FlowMatching

    def theirs_forward() -> Tensor:
        return network(inputs.x, inputs.clip, inputs.sync, inputs.text, inputs.t)

    def theirs_sampling() -> Tensor:
        conditions = network.preprocess_conditions(inputs.clip, inputs.sync, inputs.text)
        empty = network.get_empty_conditions(inputs.x.shape[0])
        flow = FlowMatching(min_sigma=0, inference_mode="euler", num_steps=steps)
        return flow.to_data(lambda t, x: network.ode_wrapper(t, x, conditions, empty, CFG_STRENGTH), inputs.x)

    found["forward"]["MMAudio"] = theirs_forward
    found["sampling"]["MMAudio"] = theirs_sampling
    return found


def run_variant(
    variant: str, options: argparse.Namespace, device: torch.device, dtype: torch.dtype
) -> list[dict]:
    """Rows of one variant: forward and sampling, each implementation, best and median seconds, memory, error."""
    state = random_state_dict(released_file(variant).keys, seed=0)
    model = build_denoiser(state, variant).to(device, dtype)
    network = None
    if options.mmaudio:
        network = mmaudio_network(variant, options.duration, state, device, dtype)
    del state
    gc.collect()
    config = ParityConfig.of_variant(variant)
    inputs = parity_inputs(config, options.duration, batch=options.batch, seed=1)
    inputs = ParityInputs(
        **{
            name: value.to(device, dtype) if isinstance(value, Tensor) else value
            for name, value in vars(inputs).items()
        }
    )
    rows = []
    with torch.no_grad():
        for kind, calls in cases(variant, inputs, options.steps, network, model).items():
            repeats = options.repeats if kind == "forward" else options.sampling_repeats
            for _ in range(options.warmup if kind == "forward" else 0):
                for call in calls.values():
                    call()
            seconds: dict[str, list[float]] = {name: [] for name in calls}
            peaks: dict[str, int] = dict.fromkeys(calls, 0)
            outputs: dict[str, Tensor] = {}
            for _ in range(repeats):  # interleaved, so a busy spell on a shared machine hits both
                for name, call in calls.items():
                    took, peak, outputs[name] = measure(call, device)
                    seconds[name].append(took)
                    peaks[name] = max(peaks[name], peak)
            error = relative_error(outputs["foleyzoo"], outputs["MMAudio"]) if "MMAudio" in outputs else None
            for name in calls:
                rows.append(
                    {
                        "variant": variant,
                        "case": kind,
                        "implementation": name,
                        "best_s": min(seconds[name]),
                        "median_s": sorted(seconds[name])[len(seconds[name]) // 2],
                        "all_s": seconds[name],
                        "peak_bytes": peaks[name],
                        "relative_error_vs_mmaudio": error if name == "foleyzoo" else None,
                    }
                )
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: a row a (variant, case, implementation), seconds, speed-up over MMAudio, peak memory, error."""
    theirs = {(row["variant"], row["case"]): row for row in rows if row["implementation"] == "MMAudio"}
    body = []
    for row in rows:
        base = theirs.get((row["variant"], row["case"]))
        ratio = f"{base['best_s'] / row['best_s']:.2f}x" if base else "n/a"
        error = row["relative_error_vs_mmaudio"]
        body.append(
            [
                row["variant"],
                row["case"],
                row["implementation"],
                f"{row['best_s']:.3f}",
                f"{row['median_s']:.3f}",
                ratio,
                f"{row['peak_bytes'] / 2**20:.0f}",
                "" if error is None else f"{error:.1e}",
            ]
        )
    headers = [
        "variant",
        "case",
        "implementation",
        "best s",
        "median s",
        "speed vs MMAudio",
        "peak MiB",
        "rel. error",
    ]
    return markdown_table(headers, body, right=set(range(3, len(headers))))


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (results do not record where they ran)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variants", nargs="+", default=["small_16k", "large_44k_v2"], choices=list(VARIANTS)
    )
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=3, help="forward passes timed a variant and implementation"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed forward passes first")
    parser.add_argument("--sampling-repeats", type=int, default=1)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--dtype", choices=["float32", "bfloat16"], default=None, help="default: bf16 on CUDA"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=RESULTS / "mmaudio_denoiser_speed.json")
    options = parser.parse_args()
    host = machine()
    if options.threads:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    dtype = getattr(torch, options.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    try:
        import mmaudio  # noqa: F401
    except ImportError:
        options.mmaudio = False
        print(
            "MMAudio's code is not importable (set PYTHONPATH to a clone of hkchengrex/MMAudio): foleyzoo alone.\n"
        )
    else:
        options.mmaudio = True
    rows = []
    for variant in options.variants:
        rows += run_variant(variant, options, device, dtype)
        print(table([row for row in rows if row["variant"] == variant]) + "\n", flush=True)
    print(table(rows))
    settings = {**vars(options), "dtype": str(dtype).removeprefix("torch."), "cfg_strength": CFG_STRENGTH}
    settings["json"] = _shown(Path(options.json))
    result = {
        "settings": settings,
        "machine": {**host, "load_average_at_end": machine()["load_average_1_5_15_min"]},
        "rows": rows,
    }
    print(f"wrote {write_json(options.json, result)}")


if __name__ == "__main__":
    main()
