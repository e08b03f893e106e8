"""The vocoder-only ceiling per domain: audio → MelFrontend → vocoder → audio, with no codec in between.

Whatever a mel codec loses comes on top of this, so the codec's reconstruction scores are read against
it. Per domain of the corpus built by ``scripts/build_codec_corpus.py`` (and SynthFoley clean audio) it
reports log-mel L1, multi-resolution STFT distance and, for speech, wide-band PESQ (16 kHz) when the
``pesq`` package is installed. SynthFoley clips are also scored with the SynthFoley scorer (onset F1,
class accuracy) against their ground truth, vocoded in stereo channel by channel.

Usage:
  python benchmarks/vocoder_ceiling.py --corpus corpus/ --synthfoley 16 --json out.json
  python benchmarks/vocoder_ceiling.py --corpus corpus/ --vocos-checkpoint last.ckpt
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleyzoo.api import Vocoder, Waveform
from foleyzoo.codecs.corpus import read_corpus_manifest
from foleyzoo.codecs.mel import MelConfig, MelFrontend
from foleyzoo.codecs.vocoders import GriffinLimVocoder
from foleyzoo.codecs.vocoders.losses import multi_resolution_stft

SAMPLE_RATE = 16000


def pesq_wb(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Wide-band PESQ (MOS-LQO, about 1–4.6) of 16 kHz (N,) signals; NaN when ``pesq`` is not installed."""
    try:
        from pesq import pesq
    except ImportError:
        return math.nan
    return float(pesq(SAMPLE_RATE, reference.astype(np.float64), degraded.astype(np.float64), "wb"))


def reconstruct(
    vocoder: Vocoder, frontend: MelFrontend, samples: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C, N) audio → (vocoded (1, C, N'), the target cut to N' = (frames - 1) * hop)."""
    with torch.no_grad():
        out = vocoder.vocode(frontend.mel(Waveform(samples, SAMPLE_RATE))).samples
    return out, samples[..., : out.shape[-1]]


def spectral_scores(frontend: MelFrontend, out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Log-mel L1 and multi-resolution STFT distance of (1, C, N) signals."""
    return {
        "mel_l1": float((frontend(out) - frontend(target)).abs().mean()),
        "mrstft": float(multi_resolution_stft(out[0], target[0])),
    }


def corpus_scores(vocoder: Vocoder, frontend: MelFrontend, corpus: Path) -> dict[str, dict[str, Any]]:
    """Domain → mean scores and file/second counts over the corpus manifest."""
    from foleyzoo.data.media import read_audio

    per_domain: dict[str, list[dict[str, float]]] = defaultdict(list)
    for entry in read_corpus_manifest(corpus):
        samples = read_audio(corpus / entry.path, SAMPLE_RATE, channels=1)[None]
        out, target = reconstruct(vocoder, frontend, samples)
        scores = spectral_scores(frontend, out, target)
        if entry.domain == "speech":
            scores["pesq_wb"] = pesq_wb(target[0, 0].numpy(), out[0, 0].numpy())
        scores["seconds"] = target.shape[-1] / SAMPLE_RATE
        per_domain[entry.domain].append(scores)
    return {domain: _mean(rows) for domain, rows in per_domain.items()}


def synthfoley_scores(vocoder: Vocoder, frontend: MelFrontend, clips: int, seed: int) -> dict[str, Any]:
    """Mean spectral scores of SynthFoley clean stereo clips and the scorer's summary of the vocoded audio."""
    from foleyzoo.data.synthfoley.generator import generate_clip
    from foleyzoo.data.synthfoley.scorer import GroundTruth, reference_profiles, score_clip, summarize

    profiles, rows, clip_scores, clean_scores = reference_profiles(), [], [], []
    for index in range(clips):
        clip = generate_clip((seed, index))
        truth = GroundTruth.from_json(clip.spec.to_json())
        samples = torch.from_numpy(clip.clean_audio)[None]
        out, target = reconstruct(vocoder, frontend, samples)
        row = spectral_scores(frontend, out, target)
        row["seconds"] = target.shape[-1] / SAMPLE_RATE
        rows.append(row)
        padded = np.pad(out[0].numpy(), ((0, 0), (0, samples.shape[-1] - out.shape[-1])))
        clip_scores.append(score_clip(padded, truth, SAMPLE_RATE, f"clip_{index}", profiles))
        clean_scores.append(score_clip(clip.clean_audio, truth, SAMPLE_RATE, f"clip_{index}", profiles))
    result = _mean(rows)
    vocoded, clean = summarize(clip_scores), summarize(clean_scores)
    result.update(onset_f1=vocoded.f1, class_accuracy=vocoded.class_accuracy)
    result.update(clean_onset_f1=clean.f1, clean_class_accuracy=clean.class_accuracy)
    return result


def _mean(rows: list[dict[str, float]]) -> dict[str, Any]:
    keys = {key for row in rows for key in row if key != "seconds"}
    summary: dict[str, Any] = {key: float(np.mean([row[key] for row in rows if key in row])) for key in keys}
    summary.update(files=len(rows), seconds=round(sum(row["seconds"] for row in rows), 1))
    return summary


def markdown_table(name: str, results: dict[str, dict[str, Any]]) -> str:
    """One markdown table: a row a domain, columns for every measure (— where it does not apply)."""
    columns = [
        "files",
        "seconds",
        "mel_l1",
        "mrstft",
        "pesq_wb",
        "onset_f1",
        "class_accuracy",
        "clean_onset_f1",
    ]
    lines = [f"| {name} domain | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for domain, scores in results.items():
        cells = []
        for column in columns:
            value = scores.get(column)
            cells.append(
                "—"
                if value is None or (isinstance(value, float) and math.isnan(value))
                else f"{value:.3g}"
                if isinstance(value, float)
                else str(value)
            )
        lines.append(f"| {domain} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_vocoders(args: argparse.Namespace) -> dict[str, Vocoder]:
    """Name → vocoder: Griffin-Lim always, a trained Vocos when a checkpoint is given."""
    vocoders: dict[str, Vocoder] = {"GriffinLim-32": GriffinLimVocoder(iterations=args.iterations)}
    if args.vocos_checkpoint:
        from foleyzoo.checkpoints import load_module

        vocoders["Vocos-tiny"] = load_module(args.vocos_checkpoint).eval()
    return vocoders


def main(argv: list[str] | None = None) -> int:
    """Run every vocoder over the corpus and SynthFoley; print markdown tables and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="a folder written by scripts/build_codec_corpus.py")
    parser.add_argument(
        "--synthfoley", type=int, default=16, help="SynthFoley clean clips to score (0: none)"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="SynthFoley seed (1 = the validation clips of seed 0)"
    )
    parser.add_argument("--iterations", type=int, default=32, help="Griffin-Lim iterations")
    parser.add_argument("--vocos-checkpoint", help="a `foleyzoo fit` checkpoint of VocosVocoder")
    parser.add_argument("--json", type=Path, help="write all results here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    frontend = MelFrontend(MelConfig(sample_rate=SAMPLE_RATE))
    report: dict[str, Any] = {"command": " ".join(sys.argv), "results": {}}
    for name, vocoder in build_vocoders(args).items():
        started = time.perf_counter()
        results = corpus_scores(vocoder, frontend, args.corpus) if args.corpus else {}
        if args.synthfoley:
            results["synthfoley"] = synthfoley_scores(vocoder, frontend, args.synthfoley, args.seed)
        report["results"][name] = results
        print(markdown_table(name, results))
        print(f"({time.perf_counter() - started:.0f} s)\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
