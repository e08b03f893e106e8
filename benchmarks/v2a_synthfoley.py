"""Score video-to-audio checkpoints on held-out SynthFoley clips: onset F1, timing, class accuracy.

    python benchmarks/v2a_synthfoley.py --checkpoint runs/kling-tiny/checkpoints/last.ckpt \
        [--checkpoint runs/kling-tiny-nosync/checkpoints/last.ckpt] [--clips 32] [--seed 2024] \
        [--steps 25] [--cfg 2.0] [--json benchmarks/results/v2a_synthfoley.json]

Several checkpoints (the sync ablation next to the full model) are scored side by side on the same
clips and sampling seeds. Held-out clips come from ``--seed`` (training used seeds 0 and 1); frames are
sampled as the tiny recipe trains (``--visual-size``/``--sync-size``). The model generates mono audio
from the frames and captions; the SynthFoley scorer compares it with the clips' ground truth.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from foleyzoo.data.clips import ClipFormat
from foleyzoo.io.checkpoints import load_module
from foleyzoo.samplers import EulerSampler
from foleyzoo.training.flow_eval import generation_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True, help="repeat to compare models")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--steps", type=int, default=25, help="Euler steps")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument("--visual-size", type=int, default=32)
    parser.add_argument("--sync-size", type=int, default=32)
    parser.add_argument("--json", default="benchmarks/results/v2a_synthfoley.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    results = []
    for checkpoint in args.checkpoint:
        model = load_module(checkpoint).eval()
        fmt = ClipFormat(
            visual_fps=model.visual_encoder.fps if model.visual_encoder is not None else None,
            visual_size=(args.visual_size, args.visual_size),
            sync_fps=model.sync_encoder.fps if model.sync_encoder is not None else None,
            sync_size=(args.sync_size, args.sync_size),
            sample_rate=model.codec.sample_rate,
        )
        started = time.perf_counter()
        summary = generation_scores(
            model, fmt, seed=args.seed, clips=args.clips, sampler=EulerSampler(args.steps), cfg_scale=args.cfg
        )
        results.append(
            {
                "checkpoint": checkpoint,
                "conditions": list(model.enabled),
                "cfg_scale": model.cfg_scale if args.cfg is None else args.cfg,
                "steps": args.steps,
                "seconds": time.perf_counter() - started,
                **summary.as_dict(),
            }
        )
    print(
        f"{'checkpoint':<52}{'conditions':<20}{'onset F1':>9}{'prec':>7}{'recall':>7}{'class acc':>10}{'median ms':>10}"
    )
    for row in results:
        print(
            f"{row['checkpoint'][-52:]:<52}{'+'.join(row['conditions']):<20}{row['f1']:>9.3f}"
            f"{row['precision']:>7.3f}{row['recall']:>7.3f}{row['class_accuracy']:>10.3f}{row['median_offset_ms']:>10.1f}"
        )
    output = {"clips": args.clips, "seed": args.seed, "results": results}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(output, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
