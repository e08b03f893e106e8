"""Several draws of the noise for each clip, and the one whose onsets the others agree with most.

    python benchmarks/consensus_draws.py --bundle runs/quickstart/pipeline --sets 9001:64:varied \\
        [--draws 4] [--json benchmarks/results/consensus_draws.json]

Draw k generates every clip with noise seed ``1000 k + clip`` (draw 0 is what the quickstart scores).
For each clip the kept draw is the one whose strict-detector onsets have the highest mean onset F1
against the other draws' onsets (the earliest draw on a tie): a consensus of the model's own samples,
chosen without the clip's ground truth (minimum Bayes risk selection). The table gives each draw's
scores and the kept draws'. It asks whether the false onsets and misses are draws of the noise that
selection can avoid, and what that is worth for N times the generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from _common import parse_set, synthfoley_set_parser, write_json
from false_onsets import AudioRecorder

from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.home import resolve_bundle
from foleyzoo.pipeline.synthfoley_eval import score_pipeline, summary_row
from foleyzoo.synthfoley.dataset import make_item
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.scorer import STRICT, GroundTruth, detect_onsets, match_onsets
from foleyzoo.synthfoley.variation import HELD_OUT

SEED_STRIDE = 1000
"""Draw k's noise seeds start at ``SEED_STRIDE · k`` (clip i adds i): draws never share a seed."""


def agreement(first: Sequence[float], second: Sequence[float]) -> float:
    """Onset F1 between two lists of onset times (1 when both are empty)."""
    if not len(first) and not len(second):
        return 1.0
    return 2 * len(match_onsets(first, second)) / (len(first) + len(second))


def consensus(onsets: Sequence[Sequence[float]]) -> int:
    """The index of the draw whose onsets agree most with the others' (mean onset F1; earliest on a tie)."""
    means = [
        np.mean([agreement(mine, other) for j, other in enumerate(onsets) if j != i])
        for i, mine in enumerate(onsets)
    ]
    return int(np.argmax(means))


def consensus_set(pipeline: FoleyPipeline, seed: int, clips: int, varied: bool, draws: int) -> dict[str, Any]:
    """Each draw's scores on the set, which draw each clip keeps, and the kept draws' scores."""
    recorders, rows = [], []
    for draw in range(draws):
        recorder = AudioRecorder(pipeline)
        summary = score_pipeline(
            recorder, seed=seed, clips=clips, varied=varied, noise_seed=SEED_STRIDE * draw, detector=STRICT
        )
        recorders.append(recorder)
        rows.append(summary_row(summary))
    kept, scorer = [], ClipScorer(STRICT)
    for index in range(clips):
        audios = [recorder.audio[index] for recorder in recorders]
        choice = consensus([detect_onsets(audio.float().numpy(), STRICT) for audio in audios])
        kept.append(choice)
        item = make_item(seed, index, 4.0, clean=True, variety=HELD_OUT if varied else None)
        scorer.add(audios[choice], GroundTruth.from_json(item["meta"]), pipeline.codec.sample_rate)
    return {"draws": rows, "kept_draw": kept, "consensus": summary_row(scorer.summary())}


def main() -> None:
    parser = synthfoley_set_parser(__doc__)
    parser.add_argument("--draws", type=int, default=4, help="draws of the noise per clip (at least 2)")
    parser.add_argument("--json", default="benchmarks/results/consensus_draws.json")
    args = parser.parse_args()
    if args.draws < 2:
        parser.error("--draws must be at least 2")
    bundle = resolve_bundle(args.bundle)
    pipeline = FoleyPipeline.from_bundle(bundle)
    results = {spec: consensus_set(pipeline, *parse_set(spec), args.draws) for spec in args.sets}
    names = ("onset_f1", "onset_precision", "onset_recall", "class_accuracy", "silent_false_alarm_rate")
    for spec, result in results.items():
        print(f"{spec}: " + "".join(f"{name:>26}" for name in names))
        for label, row in [
            *((f"draw {k}", r) for k, r in enumerate(result["draws"])),
            ("consensus", result["consensus"]),
        ]:
            print(f"  {label:<12}" + "".join(f"{row[name]:>26.3f}" for name in names))
    write_json(
        args.json, {"bundle": str(bundle), "detector": STRICT.name, "draws": args.draws, "results": results}
    )


if __name__ == "__main__":
    main()
