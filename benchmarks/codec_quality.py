"""What a trained MelVAE keeps: held-out log-mel L1 vs the mean-frame baseline, and SynthFoley scores.

    python benchmarks/codec_quality.py --checkpoint runs/melvae-tiny-16k/.../last.ckpt \
        [--clips 32] [--seed 2024] [--json benchmarks/results/codec_quality.json]

Held-out clips come from ``--seed`` (training used seed 0). SynthFoley scores compare clean clips
through encode → decode → Griffin-Lim with the Griffin-Lim-only ceiling (the input's own mel).
Prints a table and writes JSON with every setting.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from foleyzoo.api import Waveform
from foleyzoo.checkpoints import load_module
from foleyzoo.cli.codec import pick_vocoder
from foleyzoo.codecs.melvae_eval import mel_l1_ratio, synthfoley_audio, synthfoley_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024)
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
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
