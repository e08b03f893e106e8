"""Score a bundle on clips foleyzoo's own generator did not draw: standard and varied held-out mp4 files.

    python benchmarks/synthfoley_generalisation.py --bundle quickstart [--clips 32] [--seed 2024] \
        [--varied-seed 7000] [--cfg 4.0] [--steps 25] [--nnls-steps 512] [--phase-init zero] \
        [--json benchmarks/results/synthfoley_generalisation.json]

Two held-out sets are written once under ``--work`` (as ``foleyzoo synth make`` writes them): the standard
clips of ``--seed`` and the clips of ``--varied-seed`` drawn with every choice the spec leaves free varied
(``foleyzoo synth make --varied``: draws to their bounds, objects resting early, other shapes, hard
edges, shifted colours, H.264 at CRF 17–30). Each clip's mp4 goes through the bundle as
``foleyzoo generate`` sends it (decoded from the file, its caption as the prompt, noise seed
``--noise-seed + i``), and the stereo output is scored with the strict and the standard onset detector.
The table gives onset F1, precision, recall, median offset, class accuracy, pan error, silent-impact
false alarms, the clips where a silent object sounded, and the output's peak.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import write_json

from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.home import resolve_bundle
from foleyzoo.pipeline.synthfoley_eval import summary_row
from foleyzoo.synthfoley.generator import generate_clip, write_clip
from foleyzoo.synthfoley.scorer import (
    STANDARD,
    STRICT,
    GroundTruth,
    reference_profiles,
    score_clip,
    summarize,
)
from foleyzoo.synthfoley.variation import generate_varied_clip, write_varied_clip
from foleyzoo.vocoders.griffin_lim import PHASE_INITS


def make_set(folder: Path, seed: int, clips: int, varied: bool) -> list[Path]:
    """The set's mp4 files, written first when the folder does not hold them all yet."""
    paths = [folder / f"clip_{index:05d}.mp4" for index in range(clips)]
    for index, path in enumerate(paths):
        if path.is_file() and path.with_suffix(".json").is_file():
            continue
        if varied:
            clip, style = generate_varied_clip((seed, index))
            write_varied_clip(folder, path.stem, clip, style)
        else:
            write_clip(folder, path.stem, generate_clip((seed, index)))
    return paths


def score_set(pipeline: FoleyPipeline, videos: list[Path], noise_seed: int, options: dict) -> dict:
    """Generate for each video as `foleyzoo generate` does and score with both detectors."""
    profiles = reference_profiles()
    scores: dict[str, list] = {STRICT.name: [], STANDARD.name: []}
    peak = 0.0
    for index, video in enumerate(videos):
        meta = json.loads(video.with_suffix(".json").read_text())
        truth = GroundTruth.from_json(meta)
        audio = pipeline.generate(video, prompt=meta["caption"], seed=noise_seed + index, **options).samples
        peak = max(peak, float(audio.abs().max()))
        for detector in (STRICT, STANDARD):
            scores[detector.name].append(
                score_clip(audio.numpy(), truth, stem=video.stem, profiles=profiles, detector=detector)
            )
    result = {}
    for name, clip_scores in scores.items():
        summary = summarize(clip_scores)
        result[name] = {
            **summary_row(summary),
            "silent_false_alarms": summary.silent_false_alarms,
            "silent_impacts": summary.silent_impacts,
            "silent_clips": summary.silent_clips,
            "silent_clips_alarmed": summary.silent_clips_alarmed,
            "per_clip_f1": [round(s.f1, 4) for s in clip_scores],
        }
    result["peak"] = peak
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle", default="runs/quickstart/pipeline", help="a bundle folder or a model name"
    )
    parser.add_argument("--work", default="runs/generalisation", help="where the held-out clips are written")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2024, help="standard held-out clips (training used 0, 1)")
    parser.add_argument("--varied-seed", type=int, default=7000, help="varied held-out clips")
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the bundle's)")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default: the bundle's)")
    parser.add_argument(
        "--nnls-steps", type=int, default=None, help="Griffin-Lim NNLS updates (default: the bundle's)"
    )
    parser.add_argument(
        "--phase-init",
        choices=PHASE_INITS,
        default=None,
        help="Griffin-Lim's starting phase (default: the bundle's)",
    )
    parser.add_argument("--json", default="benchmarks/results/synthfoley_generalisation.json")
    args = parser.parse_args()
    pipeline = FoleyPipeline.from_bundle(resolve_bundle(args.bundle))
    if args.nnls_steps is not None:
        pipeline.vocoder.nnls_steps = args.nnls_steps
    if args.phase_init is not None:
        pipeline.vocoder.phase_init = args.phase_init
    options = {"steps": args.steps, "cfg": args.cfg}
    work = Path(args.work)
    sets = {
        "standard": make_set(work / f"standard-{args.seed}", args.seed, args.clips, varied=False),
        "varied": make_set(work / f"varied-{args.varied_seed}", args.varied_seed, args.clips, varied=True),
    }
    results = {}
    for name, videos in sets.items():
        started = time.perf_counter()
        results[name] = score_set(pipeline, videos, args.noise_seed, options)
        results[name]["seconds"] = time.perf_counter() - started
    header = (
        f"{'clips':<10}{'detector':<10}{'F1':>7}{'prec':>7}{'recall':>8}{'offset':>8}{'class':>7}{'pan':>7}"
    )
    print(f"\n{header}{'silent FA':>12}{'silent clips':>14}{'peak':>7}")
    for name, result in results.items():
        for detector in (STRICT.name, STANDARD.name):
            row = result[detector]
            print(
                f"{name:<10}{detector:<10}{row['onset_f1']:>7.3f}{row['onset_precision']:>7.3f}"
                f"{row['onset_recall']:>8.3f}{row['median_offset_ms']:>8.1f}{row['class_accuracy']:>7.3f}"
                f"{row['pan_error']:>7.3f}{row['silent_false_alarms']:>6d} / {row['silent_impacts']:<3d}"
                f"{row['silent_clips_alarmed']:>7d} / {row['silent_clips']:<4d}{result['peak']:>7.3f}"
            )
    record = {
        "bundle": str(args.bundle),
        "clips": args.clips,
        "seed": args.seed,
        "varied_seed": args.varied_seed,
        "noise_seed": args.noise_seed,
        "options": {
            **options,
            "nnls_steps": pipeline.vocoder.nnls_steps,
            "phase_init": getattr(pipeline.vocoder, "phase_init", "random"),
        },
        "detectors": {
            d.name: {"threshold_db": d.threshold_db, "floor_db": d.floor_db} for d in (STRICT, STANDARD)
        },
        "results": results,
        "mean_clip_f1_strict": {k: float(np.mean(v[STRICT.name]["per_clip_f1"])) for k, v in results.items()},
    }
    write_json(args.json, record)


if __name__ == "__main__":
    main()
