"""``foleyzoo synth``: write SynthFoley clips to a folder, and score generated audio against them.

    foleyzoo synth make --output DIR --clips N --seed S [--duration D] [--clean-wav] [--workers 2]
    foleyzoo synth score --clips DIR --generated DIR [--json FILE]
    foleyzoo synth calibrate [--clips N] [--seed S]

``make`` writes ``clip_<i>.mp4`` + ``clip_<i>.json`` (+ ``clip_<i>.wav``, the clean mix, with
``--clean-wav``); clip i is generated from the seed sequence (S, i), so the files do not depend on
the number of workers. ``score`` pairs ``<stem>.wav`` in the generated folder with ``<stem>.json``.
``calibrate`` scores audio whose answer is known (the clips' own clean and noisy mixes, silence, the
clean mix 150 ms late), to show what the scorer's numbers mean.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foleyzoo.cli.output import CommandParser, positive_int
from foleyzoo.errors import FoleyzooError, MediaError
from foleyzoo.synthfoley.generator import DURATION, END_MARGIN, FIRST_IMPACT_RANGE

if TYPE_CHECKING:
    from rich.table import Table

    from foleyzoo.synthfoley.scorer import ScoreSummary

__all__ = ["build_parser", "main"]

PROG = "foleyzoo synth"


def _clip_duration(text: str) -> float:
    value = float(text)
    shortest = END_MARGIN + FIRST_IMPACT_RANGE[0]
    if not value > shortest:
        raise argparse.ArgumentTypeError(f"must be longer than {shortest} s, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``foleyzoo synth`` argument parser (``make``, ``score`` and ``calibrate`` subcommands)."""
    parser = CommandParser(prog=PROG, description="SynthFoley v1: make clips, score generated audio.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{make,score,calibrate}")
    make = commands.add_parser("make", help="write clips (mp4 + json, optionally the clean wav)")
    make.add_argument("--output", type=Path, required=True, help="folder to write the clips into")
    make.add_hidden_alias("--out", "--output")  # the old spelling, still accepted
    make.add_argument("--clips", type=positive_int, required=True, help="number of clips")
    make.add_argument("--seed", type=int, required=True, help="clip i is generated from (seed, i)")
    make.add_argument("--duration", type=_clip_duration, default=DURATION, help="seconds per clip")
    make.add_argument("--clean-wav", action="store_true", help="also write the clean (noise-free) mix")
    make.add_argument(
        "--varied",
        action="store_true",
        help="vary every choice the spec leaves free (draws, shapes, edges, colours, H.264 quality): "
        "clips as another conforming generator might make them",
    )
    make.add_argument(
        "--workers", type=positive_int, default=2, help="processes (output does not depend on it)"
    )
    score = commands.add_parser("score", help="score generated <stem>.wav files against <stem>.json")
    score.add_argument("--clips", type=Path, required=True, help="folder with the clips' json files")
    score.add_argument("--generated", type=Path, required=True, help="folder with generated <stem>.wav")
    score.add_argument("--json", type=Path, help="also write the summary and per-clip scores here")
    _add_detector(score)
    calibrate = commands.add_parser("calibrate", help="score known audio: own clean/noisy mix, silence, late")
    calibrate.add_argument("--clips", type=positive_int, default=32, help="number of clips")
    calibrate.add_argument("--seed", type=int, default=2024, help="clip i is generated from (seed, i)")
    calibrate.add_argument("--varied", action="store_true", help="clips drawn with every free choice varied")
    _add_detector(calibrate)
    return parser


def _add_detector(parser: argparse.ArgumentParser) -> None:
    from foleyzoo.synthfoley.scorer import DETECTORS

    parser.add_argument(
        "--detector",
        choices=sorted(DETECTORS),
        default="strict",
        help="onset detector: strict (default; counts faint spurious transients, clean-reference F1 "
        "≥ 0.97) or standard (the earlier, more lenient one)",
    )


def clip_stem(index: int, count: int) -> str:
    """``clip_00042``: zero-padded to at least five digits, and to the width of the largest index."""
    return f"clip_{index:0{max(5, len(str(count - 1)))}d}"


def _make_one(job: tuple[Path, str, int, int, float, bool, bool]) -> str:
    """Generate and write one clip (runs in a worker process); returns its stem."""
    from foleyzoo.synthfoley.generator import generate_clip, write_clip
    from foleyzoo.synthfoley.variation import generate_varied_clip, write_varied_clip

    out, stem, seed, index, duration, clean_wav, varied = job
    if varied:
        clip, style = generate_varied_clip((seed, index), duration)
        write_varied_clip(out, stem, clip, style, write_clean_wav=clean_wav)
    else:
        write_clip(out, stem, generate_clip((seed, index), duration), write_clean_wav=clean_wav)
    return stem


def run_make(args: argparse.Namespace) -> int:
    """Write ``args.clips`` clips to ``args.output`` with ``args.workers`` processes."""
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaError(f"{args.output}: cannot create the output folder ({exc})") from exc
    jobs = [
        (args.output, clip_stem(i, args.clips), args.seed, i, args.duration, args.clean_wav, args.varied)
        for i in range(args.clips)
    ]
    if args.workers == 1:
        stems = [_make_one(job) for job in jobs]
    else:
        context = multiprocessing.get_context("spawn")  # no inherited threads or state: same result anywhere
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=context) as pool:
            stems = list(pool.map(_make_one, jobs, chunksize=max(1, len(jobs) // (4 * args.workers))))
    kind = "varied SynthFoley" if args.varied else "SynthFoley"
    print(f"wrote {len(stems)} {kind} clips (seed {args.seed}, {args.duration:g} s) to {args.output}")
    return 0


def _format(value: float, unit: str = "") -> str:
    return "n/a" if isinstance(value, float) and math.isnan(value) else f"{value:.3f}{unit}"


def _nan_to_none(value: Any) -> Any:
    """The report with NaN (a measure without matched events) as JSON null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value


def _table(title: str, first_column: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    table.add_column(first_column)
    return table


def _print(table: Table) -> None:
    from rich.console import Console

    Console(width=max(150, Console().width), soft_wrap=False).print(table)


def _measures(summary: ScoreSummary) -> list[tuple[str, str]]:
    """(name, formatted value) of each measure the spec defines."""
    return [
        ("onset F1 (±50 ms)", _format(summary.f1)),
        ("onset precision", _format(summary.precision)),
        ("onset recall", _format(summary.recall)),
        ("median |offset|", _format(summary.median_offset_ms, " ms")),
        ("class accuracy", _format(summary.class_accuracy)),
        ("pan error", _format(summary.pan_error)),
        ("silent false alarms", f"{summary.silent_false_alarms} / {summary.silent_impacts}"),
        ("clips where a silent object sounded", f"{summary.silent_clips_alarmed} / {summary.silent_clips}"),
    ]


def run_score(args: argparse.Namespace) -> int:
    """Score ``args.generated`` against ``args.clips``, print the table and maybe write JSON."""
    from foleyzoo.synthfoley.scorer import DETECTORS, score_folder

    summary, clips = score_folder(args.clips, args.generated, DETECTORS[args.detector])
    title = (
        f"SynthFoley scores ({args.detector} onset detector): {summary.clips} clips, {summary.events} events"
    )
    table = _table(title, "measure")
    table.add_column("value", justify="right")
    for name, value in _measures(summary):
        table.add_row(name, value)
    _print(table)
    if args.json is not None:
        report = {
            "detector": asdict(DETECTORS[args.detector]),
            "summary": summary.as_dict(),
            "clips": [asdict(clip) for clip in clips],
        }
        args.json.write_text(json.dumps(_nan_to_none(report), indent=1, allow_nan=False) + "\n")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Print the scores of known audio (own clean/noisy mix, silence, 150 ms late) and the chance F1."""
    from foleyzoo.synthfoley.calibration import calibrate
    from foleyzoo.synthfoley.scorer import DETECTORS

    summaries, chance = calibrate(
        args.clips, args.seed, detector=DETECTORS[args.detector], varied=args.varied
    )
    kind = "varied clips" if args.varied else "clips"
    title = f"SynthFoley scorer calibration ({args.detector} onset detector): {args.clips} {kind} of seed {args.seed}"
    table = _table(title, "audio")
    for name, _ in _measures(summaries["clean"]):
        table.add_column(name, justify="right")
    for condition, summary in summaries.items():
        table.add_row(condition, *(value for _, value in _measures(summary)))
    _print(table)
    print(f"chance F1 of a perfect detector on audio 150 ms late: {chance:.3f}")
    return 0


def main(argv: Sequence[str]) -> int:
    """Run ``foleyzoo synth`` with ``argv`` (without the program name); returns the exit code.

    A :class:`~foleyzoo.errors.FoleyzooError` prints one line to stderr and returns 2, as do bad
    arguments (with argparse's usage message).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return {"make": run_make, "score": run_score, "calibrate": run_calibrate}[args.command](args)
    except FoleyzooError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m foleyzoo.cli.synth …, until `foleyzoo synth` is wired
    sys.exit(main(sys.argv[1:]))
