"""The vocoder-only ceiling per domain: audio → MelFrontend → vocoder → audio, with no codec in between.

Whatever a mel codec loses comes on top of this, so the codec's reconstruction scores are read against
it. Per domain of the corpus built by ``scripts/build_codec_corpus.py`` (and SynthFoley clean audio) it
reports log-mel L1, multi-resolution STFT distance and, for speech, wide-band PESQ (16 kHz) when the
``pesq`` package is installed. SynthFoley clips are also scored with the SynthFoley scorer (onset F1,
class accuracy; onset F1 and precision under the strict detector too) against their ground truth, vocoded
in stereo channel by channel; ``--varied`` draws them with every free choice of the spec varied.

Usage:
  python benchmarks/vocoder_ceiling.py --corpus corpus/ --synthfoley 16 --json out.json
  python benchmarks/vocoder_ceiling.py --corpus corpus/ --vocos-checkpoint last.ckpt
  python benchmarks/vocoder_ceiling.py --corpus corpus/ --phase-init random zero
  python benchmarks/vocoder_ceiling.py --synthfoley 24 --seed 2024 --phase-init zero --n-mels 64 80 96 128
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleyzoo.api import Vocoder
from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.training.codec_eval import corpus_scores, spectral_scores, vocoder_render
from foleyzoo.vocoders import GriffinLimVocoder
from foleyzoo.vocoders.griffin_lim import PHASE_INITS

SAMPLE_RATE = 16000


def synthfoley_scores(
    vocoder: Vocoder, frontend: MelFrontend, clips: int, seed: int, varied: bool = False
) -> dict[str, Any]:
    """Mean spectral scores of SynthFoley clean stereo clips and the scorer's summary of the vocoded audio
    under the standard and the strict onset detector; ``varied`` draws the clips with every free choice of
    the spec varied."""
    from foleyzoo.synthfoley.generator import generate_clip
    from foleyzoo.synthfoley.scorer import STRICT, GroundTruth, reference_profiles, score_clip, summarize
    from foleyzoo.synthfoley.variation import generate_varied_clip

    profiles, rows, clip_scores, strict_scores, clean_scores = reference_profiles(), [], [], [], []
    render = vocoder_render(vocoder, frontend)
    for index in range(clips):
        clip = generate_varied_clip((seed, index))[0] if varied else generate_clip((seed, index))
        truth = GroundTruth.from_json(clip.spec.to_json())
        samples = torch.from_numpy(clip.clean_audio)[None]
        with torch.no_grad():
            out = render(samples)
        target = samples[..., : out.shape[-1]]
        row = spectral_scores(frontend, out, target)
        row["seconds"] = target.shape[-1] / SAMPLE_RATE
        rows.append(row)
        padded = np.pad(out[0].numpy(), ((0, 0), (0, samples.shape[-1] - out.shape[-1])))
        clip_scores.append(score_clip(padded, truth, SAMPLE_RATE, f"clip_{index}", profiles))
        strict_scores.append(score_clip(padded, truth, SAMPLE_RATE, f"clip_{index}", profiles, STRICT))
        clean_scores.append(score_clip(clip.clean_audio, truth, SAMPLE_RATE, f"clip_{index}", profiles))
    result = {key: float(np.mean([row[key] for row in rows])) for key in ("mel_l1", "mrstft")}
    result.update(files=len(rows), seconds=round(sum(row["seconds"] for row in rows), 1))
    vocoded, clean = summarize(clip_scores), summarize(clean_scores)
    result.update(onset_f1=vocoded.f1, class_accuracy=vocoded.class_accuracy)
    strict = summarize(strict_scores)
    result.update(strict_onset_f1=strict.f1, strict_precision=strict.precision, strict_recall=strict.recall)
    result.update(clean_onset_f1=clean.f1, clean_class_accuracy=clean.class_accuracy)
    return result


def markdown_table(name: str, results: dict[str, dict[str, Any]]) -> str:
    """One markdown table: a row a domain, columns for every measure (— where it does not apply)."""
    columns = [
        "files",
        "seconds",
        "mel_l1",
        "mrstft",
        "pesq_wb",
        "onset_f1",
        "strict_onset_f1",
        "strict_precision",
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
    """Name → vocoder: Griffin-Lim at every band count and starting phase asked for, a trained Vocos when a
    checkpoint is given."""
    settings = {"sample_rate": SAMPLE_RATE, "n_fft": args.n_fft, "hop_length": args.hop}
    vocoders: dict[str, Vocoder] = {
        f"GriffinLim-{args.iterations} ({phase} phase, {bands} mels)": GriffinLimVocoder(
            **settings, n_mels=bands, iterations=args.iterations, phase_init=phase
        )
        for bands in args.n_mels
        for phase in args.phase_init
    }
    if args.vocos_checkpoint:
        from foleyzoo.io.checkpoints import load_module

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
    parser.add_argument(
        "--n-fft", type=int, default=512, help="Griffin-Lim's mel FFT size (the tiny codec's)"
    )
    parser.add_argument("--hop", type=int, default=128, help="mel hop in samples")
    parser.add_argument(
        "--phase-init",
        nargs="+",
        choices=PHASE_INITS,
        default=["random"],
        help="Griffin-Lim's starting phase; several give one row of tables each, side by side",
    )
    parser.add_argument(
        "--n-mels", type=int, nargs="+", default=[64], help="mel bands; several give a table each"
    )
    parser.add_argument(
        "--varied",
        action="store_true",
        help="draw the SynthFoley clips with every free choice of the spec varied",
    )
    parser.add_argument("--vocos-checkpoint", help="a `foleyzoo fit` checkpoint of VocosVocoder")
    parser.add_argument("--json", type=Path, help="write all results here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    report: dict[str, Any] = {"command": " ".join(sys.argv), "results": {}}
    for name, vocoder in build_vocoders(args).items():
        started = time.perf_counter()
        frontend = MelFrontend(vocoder.mel_settings)  # each vocoder is scored on its own mel settings
        render = vocoder_render(vocoder, frontend)
        results = corpus_scores(render, frontend, args.corpus) if args.corpus else {}
        if args.synthfoley:
            results["synthfoley"] = synthfoley_scores(
                vocoder, frontend, args.synthfoley, args.seed, args.varied
            )
        report["results"][name] = results
        print(markdown_table(name, results))
        print(f"({time.perf_counter() - started:.0f} s)\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
