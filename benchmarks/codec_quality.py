"""What a trained MelVAE keeps: held-out log-mel L1 vs the mean-frame baseline, and SynthFoley scores.

    python benchmarks/codec_quality.py --checkpoint runs/melvae-tiny-16k/.../last.ckpt \
        [--clips 32] [--seed 2024] [--corpus corpus/] [--json benchmarks/results/codec_quality.json]

Held-out clips come from ``--seed`` (training used seeds 0 and 1). SynthFoley scores compare clean clips
through encode → decode → Griffin-Lim with the Griffin-Lim-only ceiling (the input's own mel). With
``--corpus``, the corpus's eval split is scored per domain the same two ways (log-mel L1, MR-STFT
distance, wide-band PESQ for speech). Prints tables and writes JSON with every setting.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch

from foleyzoo.api import Waveform
from foleyzoo.cli.codec import pick_vocoder
from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.io.checkpoints import load_module
from foleyzoo.training.codec_eval import (
    codec_render,
    corpus_scores,
    mel_l1_ratio,
    synthfoley_audio,
    synthfoley_scores,
    vocoder_render,
)


def _pesq_cell(row: dict) -> str:
    value = row.get("pesq_wb")
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def domain_table(codec_rows: dict[str, dict], ceiling_rows: dict[str, dict]) -> str:
    """Markdown: a row a domain, the codec's scores next to the vocoder-only ceiling's."""
    lines = [
        "| domain | files | seconds | log-mel L1 codec | ceiling | MR-STFT codec | ceiling | PESQ codec | ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for domain, row in codec_rows.items():
        top = ceiling_rows[domain]
        pesq = (_pesq_cell(row), _pesq_cell(top))
        lines.append(
            f"| {domain} | {row['files']} | {row['seconds']} | {row['mel_l1']:.3f} | {top['mel_l1']:.3f} "
            f"| {row['mrstft']:.3f} | {top['mrstft']:.3f} | {pesq[0]} | {pesq[1]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--corpus", help="a corpus folder (scripts/build_codec_corpus.py): per-domain scores")
    parser.add_argument("--json", default="benchmarks/results/codec_quality.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    codec = load_module(args.checkpoint).eval()
    vocoder = pick_vocoder(codec, "griffin-lim")
    started = time.perf_counter()
    results: dict[str, object] = {
        "checkpoint": args.checkpoint,
        "clips": args.clips,
        "seed": args.seed,
        "machine": platform.processor() or platform.machine(),
        "latent_rate": codec.latent_rate,
        "latent_dim": codec.latent_dim,
    }
    latents = []
    for name, clean in (("clean", True), ("noisy", False)):
        audio = synthfoley_audio(args.seed, args.clips, clean)
        results[f"l1_{name}"] = mel_l1_ratio(codec, audio)
        with torch.no_grad():
            latents.append(codec.encode(Waveform(audio, codec.sample_rate)).values.flatten(0, 1))
    values = torch.cat(latents)  # (frames, C) of all held-out clips
    results["latent_channel_mean_abs"] = values.mean(dim=0).abs().mean().item()
    results["latent_channel_std"] = values.std(dim=0).mean().item()
    with torch.no_grad():
        results["scores_codec"] = synthfoley_scores(codec, vocoder, args.seed, args.clips).as_dict()
        results["scores_vocoder_only"] = synthfoley_scores(None, vocoder, args.seed, args.clips).as_dict()
    if args.corpus:
        frontend = MelFrontend(codec.mel_config)
        results["corpus_codec"] = corpus_scores(codec_render(codec, vocoder), frontend, args.corpus)
        results["corpus_vocoder_only"] = corpus_scores(
            vocoder_render(vocoder, frontend), frontend, args.corpus
        )
    results["seconds"] = time.perf_counter() - started
    print(f"{'measure':<34}{'value':>10}")
    for name in ("clean", "noisy"):
        row = results[f"l1_{name}"]
        print(f"{'held-out L1 / mean-frame L1 (' + name + ')':<34}{row['ratio']:>10.3f}")
    for key in ("scores_codec", "scores_vocoder_only"):
        row = results[key]
        print(f"{key + ' onset F1':<34}{row['f1']:>10.3f}")
        print(f"{key + ' class accuracy':<34}{row['class_accuracy']:>10.3f}")
    print(f"{'latent std (mean over channels)':<34}{results['latent_channel_std']:>10.3f}")
    print(f"{'latent |mean| (mean over channels)':<34}{results['latent_channel_mean_abs']:>10.3f}")
    if args.corpus:
        print()
        print(domain_table(results["corpus_codec"], results["corpus_vocoder_only"]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
