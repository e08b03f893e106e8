"""``foleyzoo eval``: score generated audio against reference audio (and videos, captions) with foleyzoo.metrics.

Under ``--protocol av-benchmark`` (the default) av-benchmark's networks run by its rules
(:mod:`foleyzoo.metrics.avbench`) and report under its names; foleyzoo's own networks and measures
(AVContrastive, the sync judge, SynthFoley, CLAP folders, plugins) run over the clips paired by stem
(:mod:`foleyzoo.metrics.suite`), their audio read av-benchmark's way. ``--protocol foleyzoo`` keeps the
earlier rules (audio decoded straight to each network's rate, cut or zero-padded). The results print as
a table naming each result's weights and protocol; ``--json`` writes them with every setting used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError
from foleyzoo.metrics.suite import EMBEDDER_NAMES, METRICS

if TYPE_CHECKING:
    import torch

    from foleyzoo.metrics.avbench_run import AVBenchRun
    from foleyzoo.metrics.clips import EvalSettings

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
        "--metrics",
        nargs="+",
        choices=(*METRICS, "ib-score"),
        help="metrics to compute (default: all the inputs and networks allow)",
    )
    parser.add_argument(
        "--protocol",
        choices=("av-benchmark", "foleyzoo"),
        default="av-benchmark",
        help="av-benchmark: its file rules, audio loading and result names, for a paper's table; "
        "foleyzoo: paired clips only, cut or zero-padded (SynthFoley's own evaluation)",
    )
    parser.add_argument(
        "--clap-tokenizer",
        type=Path,
        help="a folder with roberta-base's vocab.json and merges.txt, for LAION-CLAP's captions "
        "(default: <weights-dir>/roberta-base, or beside the LAION-CLAP file)",
    )
    parser.add_argument(
        "--weights-dir",
        type=Path,
        help="a folder holding av-benchmark's published weight files under their own names "
        "(those absent are listed as not computed)",
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
    from foleyzoo.metrics.avbench_networks import PUBLISHED
    from foleyzoo.metrics.avbench_run import AVBenchRun
    from foleyzoo.metrics.suite import EvalSettings, file_record, parse_embedders

    if args.duration <= 0 or args.batch_size < 1 or (args.sample_rate is not None and args.sample_rate <= 0):
        raise ConfigError("--duration, --batch-size and --sample-rate must be positive")
    if args.weights_dir is not None and not args.weights_dir.is_dir():
        raise ConfigError(f"{args.weights_dir}: --weights-dir is not a folder")
    settings = EvalSettings(
        args.duration,
        args.sample_rate,
        args.batch_size,
        args.is_splits,
        args.is_seed,
        args.device,
        args.protocol,
    )
    paths = parse_embedders(args.embedders)
    published = {name: path for name, path in paths.items() if name in PUBLISHED}
    own_paths = {name: path for name, path in paths.items() if name not in PUBLISHED}
    requested = list(dict.fromkeys(args.metrics)) if args.metrics else None
    if args.protocol == "foleyzoo":
        only_avbench = sorted(set(published) - {"panns", "vggish"})
        if only_avbench or (requested and "ib-score" in requested):
            raise ConfigError(
                f"{', '.join(only_avbench) or 'ib-score'} need(s) --protocol av-benchmark "
                "(they are computed only by av-benchmark's rules)"
            )
        own_paths, published = paths, {}
    captions = read_captions(args.captions)
    device = torch.device(args.device)
    digests: dict[str, str] = {}
    avbench = AVBenchRun()
    if args.protocol == "av-benchmark":
        avbench = run_published(args, requested, published, captions, device, digests)
    own = run_own(args, requested, own_paths, settings, avbench)
    results = {**avbench.results, **own.get("results", {})}
    if not results and not avbench.not_computed:
        raise ConfigError(
            "no metric can be computed from these inputs: give --embedders or --weights-dir "
            "(and --videos, --captions)"
        )
    weights = {**avbench.weights, **own.get("weights", {})}
    sources = {
        "generated": args.generated,
        "reference": args.reference,
        "videos": args.videos,
        "captions": args.captions,
    }
    record = {
        "foleyzoo_version": __version__,
        "command": ["foleyzoo", "eval", *argv],
        "protocol": args.protocol,
        "settings": own.get("settings")
        or {name: None if p is None else str(p.resolve()) for name, p in sources.items()},
        "results": results,
        "directions": {name: result_direction(name) for name in results},
        "weights": weights,
        "not_computed": avbench.not_computed,
    }
    if avbench.files:
        record["av_benchmark"] = {
            "networks": {name: {**file_record(path), "published": published_check(name, digests.get(str(path)))}
                         for name, path in avbench.files.items()},
            "pairs": avbench.pairs,
            "unpaired": avbench.unpaired,
            "audio": "as av-benchmark: torchaudio-equivalent decoding, mean of the channels, minus the whole "
            "file's mean, torchaudio Resample kernel, cut to the duration, never padded",
        }  # fmt: skip
    if "pairs" in own:
        record["pairs"], record["unpaired"] = own["pairs"], own["unpaired"]
    print(markdown_report(results, weights, args.protocol) if results else "no metric was computed")
    for item in avbench.not_computed:
        print(f"not computed: {', '.join(item['metrics'])}: {item['reason']}")
    if "pairs" in own:
        print(own["pairs_line"])
    if args.json is not None:
        write_record(args.json, record)
    return record


def read_captions(source: Path | None) -> dict[str, str]:
    """{id: caption} of a CSV (av-benchmark's ``name,caption`` or any manifest foleyzoo reads)."""
    from foleyzoo.metrics.inputs import read_manifest

    if source is None:
        return {}
    if not source.is_file():
        raise ConfigError(f"{source}: captions file not found")
    return {row.id: row.caption for row in read_manifest(source) if row.caption}


def run_published(
    args: argparse.Namespace,
    requested: list[str] | None,
    published: dict[str, Path],
    captions: dict[str, str],
    device: torch.device,
    digests: dict[str, str],
) -> AVBenchRun:
    """av-benchmark's networks (given or found in --weights-dir) over the folders, by its rules."""
    from foleyzoo.metrics.avbench_run import AVBENCH_METRICS, AVBenchRun, run_avbench
    from foleyzoo.metrics.suite import sha256_of

    metrics = [m for m in (requested or AVBENCH_METRICS) if m in AVBENCH_METRICS]
    if not metrics:
        return AVBenchRun()
    for path in published.values():
        if path.is_file():
            digests[str(path)] = sha256_of(path)
    if args.weights_dir is not None:
        from foleyzoo.metrics.avbench_networks import PUBLISHED

        for net in PUBLISHED.values():
            if (args.weights_dir / net.file).is_file():
                digests[str(args.weights_dir / net.file)] = sha256_of(args.weights_dir / net.file)
    return run_avbench(
        args.generated, args.reference, args.videos, captions, metrics, published,
        args.weights_dir, args.duration, device, digests, args.clap_tokenizer,
    )  # fmt: skip


def run_own(
    args: argparse.Namespace,
    requested: list[str] | None,
    own_paths: dict[str, Path],
    settings: EvalSettings,
    avbench: AVBenchRun,
) -> dict[str, Any]:
    """foleyzoo's own networks and measures (AVContrastive, the sync judge, CLAP folders, plugins,
    SynthFoley) over the paired clips; under the av-benchmark protocol their audio is read its way."""
    import torch

    from foleyzoo.metrics.avbench_run import AVBENCH_METRICS, networks_for
    from foleyzoo.metrics.inputs import gather_inputs
    from foleyzoo.metrics.suite import (
        check_needs,
        default_metrics,
        evaluate,
        load_networks,
        settings_record,
    )

    covered = {metric for metric in AVBENCH_METRICS if networks_for([metric]) & avbench.networks}
    if requested is not None:
        own_requested = [m for m in requested if m in METRICS and m not in covered]
        if not own_requested:
            return {}
    elif not own_paths and avbench.networks:
        own_requested = ["synthfoley"]
    else:
        own_requested = None
    try:
        inputs = gather_inputs(args.generated, args.reference, args.videos, args.captions)
    except FoleyzooError:
        if requested is None and avbench.networks:
            return {}  # nothing of foleyzoo's own was asked for; av-benchmark's pairing rules may differ
        raise
    if own_requested is None:
        metrics = default_metrics(own_paths, inputs)
    elif requested is None:
        metrics = [m for m in default_metrics(own_paths, inputs) if m in own_requested]
    else:
        metrics = own_requested
        check_needs(metrics, own_paths, inputs)
    if not metrics:
        return {}
    nets = load_networks(own_paths, metrics, torch.device(args.device))
    results = evaluate(inputs, metrics, nets, settings)
    sources = {
        "generated": args.generated,
        "reference": args.reference,
        "videos": args.videos,
        "captions": args.captions,
    }
    line = f"\n{len(inputs.ids)} pairs"
    if inputs.generated_only or inputs.reference_only:
        line += (
            f"; unpaired, left out: {len(inputs.generated_only)} generated "
            f"({', '.join(inputs.generated_only[:5])}) and {len(inputs.reference_only)} reference "
            f"({', '.join(inputs.reference_only[:5])})"
        )
    return {
        "results": results,
        "settings": settings_record(sources, settings, metrics, own_paths, nets),
        "weights": {name: own_weights(name, own_paths) for name in results},
        "pairs": len(inputs.ids),
        "unpaired": {"generated_only": inputs.generated_only, "reference_only": inputs.reference_only},
        "pairs_line": line,
    }


def own_weights(result: str, paths: dict[str, Path]) -> str:
    """Which of foleyzoo's networks a result of its own came from (the file name), for the table."""
    label = {
        "FD-PANNs": "panns", "KL-PANNs": "panns", "IS-PANNs": "panns", "IS-PANNs-std": "panns",
        "FD-VGGish": "vggish", "CLAP": "clap", "DeSync-SyncPretraining": "sync",
    }.get(result)  # fmt: skip
    if label is None and "AVContrastive" in result:
        label = "contrastive"
    if label is None and result.startswith("FD-"):
        label = result.removeprefix("FD-")
    if label is None or label not in paths:
        return "—" if result.startswith("SynthFoley-") else ""
    return paths[label].name


def result_direction(name: str) -> str:
    """Which way a result is better, for av-benchmark's names and foleyzoo's."""
    from foleyzoo.metrics.avbench_networks import PUBLISHED
    from foleyzoo.metrics.avbench_run import avbench_direction
    from foleyzoo.metrics.suite import direction

    if any(name in net.results for net in PUBLISHED.values()):
        return avbench_direction(name)
    return direction(name)


def published_check(name: str, digest: str | None) -> str:
    """Whether a weights file is the published one, by SHA-256, where foleyzoo knows the published digest."""
    from foleyzoo.metrics.avbench_networks import PUBLISHED

    known = PUBLISHED[name].sha256
    if known is None:
        return "the published file's SHA-256 is not recorded in foleyzoo; check it yourself"
    if digest is not None and digest.startswith(known):
        return "the published file"
    return f"NOT the published file (its SHA-256 {'starts with' if len(known) < 64 else 'is'} {known})"


def markdown_report(results: dict[str, float], weights: dict[str, str], protocol: str) -> str:
    """The results as a table a paper would print: metric, value, direction, weights, protocol."""
    arrows = {"lower": "↓", "higher": "↑", "": ""}
    lines = ["| metric | value | better | weights | protocol |", "|---|---:|:-:|---|---|"]
    lines += [
        f"| {name} | {value:.4f} | {arrows[result_direction(name)]} | {weights.get(name, '')} | {protocol} |"
        for name, value in results.items()
    ]
    return "\n".join(lines)


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
