"""Score stereo renderers on held-out SynthFoley clips: pan error, ILD error, onset F1 and class accuracy.

    python benchmarks/stereo_synthfoley.py --checkpoint runs/mono2stereo-tiny/checkpoints/last.ckpt \
        [--clips 32] [--seed 2024] [--visual-size 32] [--json benchmarks/results/stereo_synthfoley.json]

Held-out clips come from ``--seed`` (training used seeds 0 and 1). Each clip's clean mono mix (the mean
of its clean stereo channels) becomes a log-mel with the checkpoint's mel settings (the tiny codec's:
16 kHz, n_fft 512, hop 128, and 64 mels in the recipe, 96 in the quickstart); each renderer makes a
stereo mel of it from the clip's frames, and Griffin-Lim renders each channel. Rows: the learned
Mono2Stereo checkpoint, the DualMono and MotionPanner baselines, the mono input itself (duplicated, no
vocoder), and two references: the clean stereo mel through the same Griffin-Lim (what a perfect renderer
would score) and the clean stereo waveform. ILD error is
|ILD_generated − ILD_reference| in dB, ILD = 10 · log10(E_R / E_L) over the 120 ms after each event.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.io.checkpoints import load_module
from foleyzoo.renderers import DualMono, MotionPanner
from foleyzoo.training.stereo_eval import held_out_clips, render_clip, score_waveforms, tiny_mel_config
from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="runs/mono2stereo-tiny/checkpoints/last.ckpt")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--visual-size", type=int, default=32, help="frame size the renderers see")
    parser.add_argument("--json", default="benchmarks/results/stereo_synthfoley.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    learned = load_module(args.checkpoint).eval()
    config = getattr(learned, "mel_config", tiny_mel_config())  # the mels the checkpoint was trained on
    frontend = MelFrontend(config)
    vocoder = GriffinLimVocoder(config.sample_rate, config.n_fft, config.hop_length, config.n_mels)
    size = (args.visual_size, args.visual_size)
    clips = held_out_clips(args.seed, args.clips)
    renderers = {
        "Mono2Stereo": learned,
        "DualMono": DualMono(),
        "MotionPanner": MotionPanner(),
        "clean stereo mel (oracle)": None,
    }
    results = []
    for name, renderer in renderers.items():
        started = time.perf_counter()
        waves = [render_clip(renderer, clip, frontend, vocoder, size) for clip in clips]
        results.append(
            {"renderer": name, "seconds": time.perf_counter() - started, **score_waveforms(waves, clips)}
        )
    for name, waves in (
        ("mono input (duplicated)", [clip.mono for clip in clips]),
        ("clean stereo waveform", [clip.stereo for clip in clips]),
    ):
        results.append({"renderer": name, "seconds": 0.0, **score_waveforms(waves, clips)})
    print(
        f"{'renderer':<28}{'pan err':>8}{'ILD dB':>8}{'onset F1':>9}{'prec':>7}{'recall':>7}{'class acc':>10}"
    )
    for row in results:
        print(
            f"{row['renderer']:<28}{row['pan_error']:>8.3f}{row['ild_error_db']:>8.2f}{row['f1']:>9.3f}"
            f"{row['precision']:>7.3f}{row['recall']:>7.3f}{row['class_accuracy']:>10.3f}"
        )
    output = {
        "checkpoint": args.checkpoint,
        "clips": args.clips,
        "seed": args.seed,
        "visual_size": args.visual_size,
        "results": results,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(output, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
