"""``foleyzoo eval``: score generated audio against reference audio (and videos, captions) with foleyzoo.metrics.

Files are paired by stem (:mod:`foleyzoo.metrics.inputs`). Audio is pre-processed as av-benchmark does:
mono (mean of the channels), resampled to each network's rate, cut or zero-padded to ``--duration``
seconds. The metrics are :mod:`foleyzoo.metrics.suite`'s adapters. The results print as a markdown
table; ``--json`` writes them with every setting used, so a number can be traced to its run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError
from foleyzoo.metrics.suite import EMBEDDER_NAMES, METRICS

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="foleyzoo eval",
        description="Score generated audio against reference audio (FD, FAVD, KL, IS, AV alignment, DeSync, CLAP, SynthFoley).",
    )
    parser.add_argument(
        "--generated", type=Path, required=True, help="folder (or CSV manifest) of generated audio"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        help="folder or CSV manifest of reference audio (default: the videos' soundtracks)",
    )
    parser.add_argument(
        "--videos", type=Path, help="folder or CSV manifest of the input videos (FAVD, AV alignment, DeSync)"
    )
    parser.add_argument("--captions", type=Path, help="CSV with id and caption columns (CLAP score)")
    parser.add_argument(
        "--metrics", nargs="+", choices=METRICS, help="metrics to compute (default: all the inputs allow)"
    )
    parser.add_argument(
        "--embedders",
        nargs="+",
        default=[],
        metavar="NAME=PATH",
        help="networks: "
        + "; ".join(f"{name}={what}" for name, what in EMBEDDER_NAMES.items())
        + "; or a registered embedder plugin's name=its weights",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        help="decode audio at this rate first (default: each network's own)",
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds each clip is cut or padded to")
    parser.add_argument("--batch-size", type=int, default=16, help="clips per network call")
    parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits")
    parser.add_argument("--is-seed", type=int, default=2020, help="Inception Score shuffle seed")
    parser.add_argument("--device", default="cpu", help="a torch device for the networks")
    parser.add_argument("--json", type=Path, help="write the results and every setting used to this file")
    return parser


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Evaluate and report; returns the JSON record."""
    import torch

    from foleyzoo import __version__
    from foleyzoo.metrics.inputs import gather_inputs
    from foleyzoo.metrics.suite import (
        EvalSettings,
        check_needs,
        default_metrics,
        direction,
        evaluate,
        load_networks,
        markdown_table,
        parse_embedders,
        settings_record,
    )

    if args.duration <= 0 or args.batch_size < 1 or (args.sample_rate is not None and args.sample_rate <= 0):
        raise ConfigError("--duration, --batch-size and --sample-rate must be positive")
    settings = EvalSettings(
        args.duration, args.sample_rate, args.batch_size, args.is_splits, args.is_seed, args.device
    )
    inputs = gather_inputs(args.generated, args.reference, args.videos, args.captions)
    paths = parse_embedders(args.embedders)
    metrics = list(dict.fromkeys(args.metrics)) if args.metrics else default_metrics(paths, inputs)
    if not metrics:
        raise ConfigError(
            "no metric can be computed from these inputs: give --embedders (and --videos, --captions)"
        )
    check_needs(metrics, paths, inputs)
    nets = load_networks(paths, metrics, torch.device(args.device))
    results = evaluate(inputs, metrics, nets, settings)
    sources = {
        "generated": args.generated,
        "reference": args.reference,
        "videos": args.videos,
        "captions": args.captions,
    }
    record = {
        "foleyzoo_version": __version__,
        "command": ["foleyzoo", "eval", *argv],
        "settings": settings_record(sources, settings, metrics, paths, nets),
        "pairs": len(inputs.ids),
        "unpaired": {"generated_only": inputs.generated_only, "reference_only": inputs.reference_only},
        "results": results,
        "directions": {name: direction(name) for name in results},
    }
    print(markdown_table(results))
    print(f"\n{len(inputs.ids)} pairs", end="")
    if inputs.generated_only or inputs.reference_only:
        print(
            f"; unpaired, left out: {len(inputs.generated_only)} generated "
            f"({', '.join(inputs.generated_only[:5])}) and {len(inputs.reference_only)} reference "
            f"({', '.join(inputs.reference_only[:5])})",
            end="",
        )
    print()
    if args.json is not None:
        write_record(args.json, record)
    return record


def write_record(path: Path, record: dict[str, Any]) -> None:
    """The JSON record, written atomically; a clear error when it cannot be."""
    from foleyzoo.io.atomic import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, (json.dumps(record, indent=1, ensure_ascii=False) + "\n").encode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the results ({exc})") from exc


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo eval``: 0 on success, 2 with a one-line message on a user error."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0)
    try:
        run(args, argv)
    except FoleyzooError as exc:
        print(f"foleyzoo eval: error: {exc}", file=sys.stderr)
        return 2
    return 0
