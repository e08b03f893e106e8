"""``foleyzoo quickstart``: train every tiny stage, export the bundle, generate for held-out clips, score."""

from __future__ import annotations

import sys
from pathlib import Path

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import FoleyzooError

__all__ = ["main"]

TARGETS = {  # the quickstart's targets on held-out SynthFoley, strict onset detector (docs/results.md)
    "onset_f1": ("≥ 0.85", lambda v: v >= 0.85),
    "onset_precision": ("≥ 0.85", lambda v: v >= 0.85),
    "onset_recall": ("–", None),
    "median_offset_ms": ("≤ 25", lambda v: v <= 25),
    "class_accuracy": ("≥ 0.85", lambda v: v >= 0.85),
    "pan_error": ("≤ 0.10", lambda v: v <= 0.10),
    "silent_false_alarm_rate": ("≤ 0.10", lambda v: v <= 0.10),
    "silent_clip_alarm_rate": ("–", None),
}


def main(argv: list[str]) -> int:
    """0 when every stage ran and the clips were scored (whether or not the targets are met); 2 on an error."""
    from rich.table import Table

    from foleyzoo.cli.output import console
    from foleyzoo.quickstart import SCORES_FILE, run_quickstart

    parser = CommandParser(prog="foleyzoo quickstart", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="a few steps per stage: checks that everything runs"
    )
    parser.add_argument("--clips", type=int, default=32, help="held-out clips to generate and score")
    parser.add_argument("--seed", type=int, default=2024, help="the held-out clips' SynthFoley seed")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="stages trained side by side before the MM-DiT: 2 (default on a multi-core machine) runs "
        "the codec beside the sync, contrastive and stereo stages; 1 runs every stage in turn",
    )
    args = parser.parse_args(argv)
    try:
        result = run_quickstart(smoke=args.smoke, clips=args.clips, seed=args.seed, jobs=args.jobs)
    except FoleyzooError as exc:
        print(f"foleyzoo quickstart: error: {exc}", file=sys.stderr)
        return 2
    table = Table(
        "score",
        "held-out clips",
        "varied clips",
        "target",
        "met",
        title=f"{result['clips']} + {result['clips']} held-out SynthFoley clips, stereo, strict onset detector",
    )
    for name, value in result["scores"].items():
        target, met = TARGETS[name]
        varied = result["varied_scores"][name]
        verdict = "–" if met is None else ("yes" if met(value) and met(varied) else "no")
        table.add_row(name, f"{value:.3f}", f"{varied:.3f}", target, verdict)
    console().print(table)
    name = Path(result["model"]).name
    print(
        f"scores: {SCORES_FILE}; bundle: runs/quickstart/pipeline, registered as model {name!r} "
        f"(try `foleyzoo generate --model {name} --input VIDEO --output out/`)"
    )
    return 0
