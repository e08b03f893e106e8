"""``foleyzoo export``: a flow model's checkpoint (and a stereo renderer's) → a bundle folder for generation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="foleyzoo export", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", required=True, help="a `foleyzoo fit` checkpoint of FoleyFlowMatching"
    )
    parser.add_argument("--output", required=True, help="the bundle folder to write")
    renderer = parser.add_mutually_exclusive_group()
    renderer.add_argument(
        "--renderer-checkpoint", help="a trained stereo renderer's checkpoint (Mono2Stereo)"
    )
    renderer.add_argument(
        "--renderer", help="a renderer plugin without weights, e.g. DualMono or MotionPanner"
    )
    parser.add_argument("--name", help="the model card's name (default: the output folder's name)")
    parser.add_argument(
        "--architecture", default="Kling-Foley MM-DiT (flow matching)", help="the model card's architecture"
    )
    parser.add_argument(
        "--trained-on", default="", help="what the model was trained on (default: not stated)"
    )
    parser.add_argument("--licence", default="", help="the weights' licence (default: not stated)")
    parser.add_argument("--scores", help="a JSON file of measured scores (name → number) for the card")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    return parser


def _scores(path: str | None) -> dict[str, float]:
    if path is None:
        return {}
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file of scores ({exc})") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a JSON object of score name → number")
    return {str(key): float(value) for key, value in values.items() if isinstance(value, (int, float))}


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo export``: prints the bundle folder; 2 with a one-line message on an error."""
    from foleyzoo.pipeline import ModelCard, export_bundle

    args = build_parser().parse_args(argv)
    try:
        card = ModelCard(
            name=args.name or Path(args.output).name,
            architecture=args.architecture,
            trained_on=args.trained_on,
            licence=args.licence,
            scores=_scores(args.scores),
        )
        renderer = {"class_path": args.renderer, "init_args": {}} if args.renderer else None
        path = export_bundle(
            args.checkpoint,
            args.output,
            card,
            renderer_checkpoint=args.renderer_checkpoint,
            renderer=renderer,
            overwrite=args.overwrite,
        )
    except FoleyzooError as exc:
        print(f"foleyzoo export: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
