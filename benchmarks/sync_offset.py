"""How well a trained SyncPretraining checkpoint tells audio-visual offsets on held-out SynthFoley clips.

    python benchmarks/sync_offset.py --checkpoint runs/sync-tiny/.../last.ckpt \
        [--clips 64] [--seed 2024] [--json benchmarks/results/sync_offset.json]

Held-out clips come from ``--seed`` (training used seeds 0 and 1). Reports offset-class accuracy over
every clip × every grid offset (noisy sound, as in training), and, for clean sound shifted as a whole by
known amounts on and off the grid, the share of predicted offsets within one grid step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from foleyzoo.io.checkpoints import load_module
from foleyzoo.training.sync_eval import held_out_clips, offset_accuracy, shifted_clip_offsets

SHIFTS = [-0.8, -0.45, -0.2, 0.0, 0.15, 0.3, 0.55, 0.9]
"""Seconds the clean sound is delayed (negative: advanced); half of them fall between grid points."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--size", type=int, default=32, help="sync frame size the model was trained on")
    parser.add_argument("--json", default="benchmarks/results/sync_offset.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_module(args.checkpoint).eval()
    started = time.perf_counter()
    clips = held_out_clips(model, args.seed, args.clips, (args.size, args.size))
    results = {
        "checkpoint": args.checkpoint,
        "clips": args.clips,
        "seed": args.seed,
        "offset_classes": len(model.offsets),
        "max_offset_s": model.max_offset,
        "classification": offset_accuracy(model, clips),
        "shifted_clean": shifted_clip_offsets(model, clips, SHIFTS),
        "shifts_s": SHIFTS,
    }
    results["seconds"] = time.perf_counter() - started
    print(f"{'measure':<52}{'value':>8}")
    print(
        f"{'offset class accuracy (chance 1/' + str(len(model.offsets)) + ')':<52}"
        f"{results['classification']['accuracy']:>8.3f}"
    )
    print(f"{'  within one grid step':<52}{results['classification']['within_one_step']:>8.3f}")
    print(
        f"{'shifted clean clips: predicted within one grid step':<52}"
        f"{results['shifted_clean']['within_one_step']:>8.3f}"
    )
    print(f"{'shifted clean clips: median error (s)':<52}{results['shifted_clean']['median_error_s']:>8.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
