"""Seconds the Griffin-Lim vocoder takes for 4 s of mono audio: its NNLS mel inversion (sparse filter
products, as the vocoder runs it, beside the dense FᵀF product it replaced) and its phase search.

    python benchmarks/griffin_lim_speed.py [--threads 1] [--repeats 5] [--json benchmarks/results/griffin_lim_speed.json]

Both NNLS forms take the same 512 Lee-Seung updates from the same start; the table gives their best
times, the ratio, and the largest difference of their results relative to the largest magnitude.
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from _common import machine, markdown_table, summary, time_calls, write_json

from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder, nnls_magnitude

SETTINGS = {
    "tiny codec mel (512-point FFT, 64 bands)": {"n_fft": 512, "hop_length": 128, "n_mels": 64},
    "80-band mel (1024-point FFT)": {"n_fft": 1024, "hop_length": 256, "n_mels": 80},
}
SECONDS = 4.0


def dense_nnls(mel: torch.Tensor, filters: torch.Tensor, pinv: torch.Tensor, steps: int) -> torch.Tensor:
    """The updates as they were written before: S ← S · Fᵀmel / (FᵀF S) with a dense (F, F) Gram matrix."""
    start = torch.einsum("fm,bmt->bft", pinv, mel).clamp_min(0.0)
    magnitude = start + 1e-3 * start.mean(dim=1, keepdim=True) + 1e-10
    numerator = torch.einsum("mf,bmt->bft", filters, mel)
    gram = filters.T @ filters
    for _ in range(steps):
        magnitude = magnitude * numerator / (torch.einsum("fg,bgt->bft", gram, magnitude) + 1e-10)
    return magnitude


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default="benchmarks/results/griffin_lim_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, results = [], {}
    for name, settings in SETTINGS.items():
        vocoder = GriffinLimVocoder(sample_rate=16000, **settings)
        frames = int(SECONDS * 16000 / settings["hop_length"]) + 1
        generator = torch.Generator().manual_seed(0)
        mel = (torch.rand(1, settings["n_mels"], frames, generator=generator) * 6 - 9).exp()
        steps = vocoder.nnls_steps

        sparse = partial(nnls_magnitude, mel, vocoder.filters, vocoder.pinv, steps)
        dense = partial(dense_nnls, mel, vocoder.filters, vocoder.pinv, steps)
        magnitude = sparse()
        difference = float((magnitude - dense()).abs().max() / magnitude.abs().max())
        timings = {
            "nnls_sparse": summary(time_calls(sparse, args.repeats)),
            "nnls_dense": summary(time_calls(dense, args.repeats)),
            "griffin_lim": summary(time_calls(partial(vocoder.griffin_lim, magnitude), args.repeats)),
        }
        speedup = timings["nnls_dense"]["best_s"] / timings["nnls_sparse"]["best_s"]
        results[name] = {**settings, "nnls_steps": steps, "max_relative_difference": difference, **timings}
        results[name]["nnls_speedup"] = speedup
        rows.append(
            [
                name,
                f"{timings['nnls_dense']['best_s']:.3f}",
                f"{timings['nnls_sparse']['best_s']:.3f}",
                f"{speedup:.1f}×",
                f"{difference:.1e}",
                f"{timings['griffin_lim']['best_s']:.3f}",
            ]
        )
    headers = [
        "mel",
        "NNLS dense (s)",
        "NNLS sparse (s)",
        "ratio",
        "max rel. diff.",
        "Griffin-Lim 32 it. (s)",
    ]
    print(f"{SECONDS:g} s of mono 16 kHz audio, {args.threads} thread(s), best of {args.repeats}")
    print(markdown_table(headers, rows))
    write_json(
        args.json,
        {"machine": machine(), "threads": args.threads, "seconds_of_audio": SECONDS, "results": results},
    )


if __name__ == "__main__":
    main()
