"""``foleyzoo convert mmaudio``: MMAudio's downloaded files → an ordinary foleyzoo bundle.

``--weights DIR`` is an MMAudio checkout after its download step (``DIR/weights/mmaudio_<variant>.pth``,
``DIR/ext_weights/...``); each file can also be given by its own option. Files whose size or hash is not
the published one are converted with a warning, checked by their keys and shapes; a file of the wrong
shape is an error. Nothing is downloaded unless ``--download`` is given.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import FoleyzooError

__all__ = ["build_parser", "main"]

VARIANTS = ("small_16k", "small_44k", "medium_44k", "large_44k", "large_44k_v2")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="foleyzoo convert", description=__doc__.splitlines()[0])
    sources = parser.add_subparsers(dest="source", required=True)
    mmaudio = sources.add_parser(
        "mmaudio",
        help="MMAudio's released files (CC-BY-NC 4.0 weights) → a bundle",
        description="MMAudio's released files (weights CC-BY-NC 4.0) → a bundle for `foleyzoo generate`.",
    )
    mmaudio.add_argument("--variant", required=True, choices=VARIANTS, help="which released network")
    mmaudio.add_argument("--weights", metavar="DIR", help="an MMAudio checkout after its download step")
    mmaudio.add_argument("--output", required=True, help="the bundle folder to write")
    files = mmaudio.add_argument_group("files (default: their place under --weights)")
    files.add_argument("--network", help="mmaudio_<variant>.pth")
    files.add_argument("--vae", help="v1-16.pth (16k) or v1-44.pth (44k)")
    files.add_argument(
        "--vocoder", help="best_netG.pt (16k), or the bigvgan_v2_44khz_128band_512x folder (44k)"
    )
    files.add_argument("--synchformer", help="synchformer_state_dict.pth")
    files.add_argument(
        "--clip",
        help="the DFN5B-CLIP-ViT-H-14-384 folder (open_clip_config.json + weights), or hf-hub:apple/… "
        "(default: DIR/ext_weights/DFN5B-CLIP-ViT-H-14-384, else the Hugging Face cache)",
    )
    mmaudio.add_argument(
        "--download",
        action="store_true",
        help="fetch missing files into --weights from the repositories MMAudio uses (needs the network)",
    )
    mmaudio.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    return parser


def main(argv: list[str]) -> int:
    """Entry point: prints the bundle folder; 2 with a one-line message on an error."""
    from foleyzoo.pipeline.mmaudio import convert_mmaudio, locate_files

    args = build_parser().parse_args(argv)
    if args.download and not args.weights:
        print("foleyzoo convert: error: --download needs --weights DIR to download into", file=sys.stderr)
        return 2
    overrides = {name: getattr(args, name) for name in ("network", "vae", "vocoder", "synchformer", "clip")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _one_line_warning
            files = locate_files(args.variant, args.weights, download=args.download, **overrides)
            path = convert_mmaudio(
                args.variant, files, args.output, overwrite=args.overwrite, download=args.download
            )
    except FoleyzooError as exc:
        print(f"foleyzoo convert: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"foleyzoo convert: warning: {message}", file=sys.stderr)
