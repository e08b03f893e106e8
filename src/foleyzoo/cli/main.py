"""The ``foleyzoo`` console script: dispatches to LightningCLI subcommands or to front-end commands."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from foleyzoo import __version__
from foleyzoo.errors import FoleyzooError
from foleyzoo.training.quiet import ENV_VERBOSE, quieted

LIGHTNING_COMMANDS = {
    "fit": "train a model from a recipe (foleyzoo fit --config recipes/...)",
    "validate": "run a validation epoch",
    "test": "run a test epoch",
    "predict": "run prediction",
}

FRONT_END_COMMANDS = {
    "plugins": ("foleyzoo.cli.plugins_cmd:main", "list registered plugins with package, version and status"),
    "recipes": (
        "foleyzoo.cli.recipes:main",
        "list, show or copy the recipes shipped by foleyzoo and plugins",
    ),
    "codec": ("foleyzoo.cli.codec:main", "encode, decode or reconstruct audio files with a trained codec"),
    "synth": ("foleyzoo.cli.synth:main", "make, score and calibrate SynthFoley benchmark clips"),
    "extract": (
        "foleyzoo.cli.extract:main",
        "compute frozen-encoder features once into a sharded feature cache",
    ),
    "eval": (
        "foleyzoo.cli.eval_cmd:main",
        "score generated audio against references (FD, KL, IS, AV alignment, DeSync, CLAP, SynthFoley)",
    ),
    "export": (
        "foleyzoo.cli.export_cmd:main",
        "write a bundle (config, safetensors, model card) from checkpoints",
    ),
    "convert": (
        "foleyzoo.cli.convert_cmd:main",
        "convert another project's released files into a bundle (convert mmaudio)",
    ),
    "generate": (
        "foleyzoo.cli.generate_cmd:main",
        "stereo Foley for videos with a bundle (.wav and muxed .mp4)",
    ),
    "demo": (
        "foleyzoo.cli.demo_cmd:main",
        "a local web page to generate with a bundle: upload a video, prompt, listen, download",
    ),
    "models": ("foleyzoo.cli.models_cmd:main", "list the bundles in $FOLEYZOO_HOME"),
    "quickstart": (
        "foleyzoo.cli.quickstart_cmd:main",
        "train every tiny stage, export the bundle, generate for held-out clips and score (about 30 min on two CPU cores)",
    ),
    "summarize": (
        "foleyzoo.cli.summarize:main",
        "parameters per component of a recipe's model, built on the meta device",
    ),
}


def overview() -> str:
    """The top-level help text."""
    lines = [
        f"foleyzoo {__version__}: video-to-audio (Foley) generation with swappable parts.",
        "",
        "usage: foleyzoo [--verbose] COMMAND [options]   (foleyzoo COMMAND --help for a command's options)",
        "",
        "  --verbose  show every warning and log message (by default the ones that mean nothing to a",
        "             user are filtered: see the docs' command-line page); also accepted after COMMAND",
        "",
        "Training (LightningCLI):",
        *(f"  {name:<10} {text}" for name, text in LIGHTNING_COMMANDS.items()),
        "",
        "Tools:",
        *(f"  {name:<10} {text}" for name, (_, text) in FRONT_END_COMMANDS.items()),
        "",
        "Docs: https://foleyzoo.readthedocs.io",
    ]
    return "\n".join(lines)


def _resolve(target: str) -> Callable[[list[str]], int]:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def run(argv: Sequence[str]) -> int:
    """Run one command line (without the program name); returns the exit code."""
    args = list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(overview())
        return 0
    if args[0] == "--version":
        print(f"foleyzoo {__version__}")
        return 0
    command = args[0]
    if command in FRONT_END_COMMANDS:
        try:
            return int(_resolve(FRONT_END_COMMANDS[command][0])(args[1:]) or 0)
        except SystemExit as exc:  # argparse's usage errors and --help: their code, not an exception
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if command in LIGHTNING_COMMANDS:
        from foleyzoo.training.cli import run as run_lightning

        return run_lightning(args)
    print(f"foleyzoo: error: {unknown_command(command)}", file=sys.stderr)
    return 2


def unknown_command(command: str) -> str:
    """One line for a command foleyzoo does not have, with the closest ones."""
    import difflib

    known = [*LIGHTNING_COMMANDS, *FRONT_END_COMMANDS]
    close = difflib.get_close_matches(command, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown command {command!r}{hint} (foleyzoo --help lists the commands)"


VERBOSE_FLAGS = ("--verbose",)


def split_verbose(args: Sequence[str]) -> tuple[list[str], bool]:
    """The command line without ``--verbose`` (before any ``--``), and whether it was there."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    kept = [arg for arg in args[:end] if arg not in VERBOSE_FLAGS]
    return [*kept, *args[end:]], len(kept) < end


def error_prefix(args: Sequence[str]) -> str:
    """``foleyzoo COMMAND`` for a known command, else ``foleyzoo``: errors name the command they come from."""
    command = args[0] if args else ""
    known = command in LIGHTNING_COMMANDS or command in FRONT_END_COMMANDS
    return f"foleyzoo {command}" if known else "foleyzoo"


def one_line(exc: FoleyzooError) -> str:
    """The message of a foleyzoo error, as one line.

    An error raised in a DataLoader worker reaches the trainer re-built by torch around the worker's
    whole traceback ("Caught MediaError in DataLoader worker process 0. Original Traceback: ..."); its
    last line holds the original message, which is what the user needs.
    """
    text = str(exc)
    if "\nOriginal Traceback" not in text:
        return text
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    for line in reversed(text.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix) :]
    return text.strip().splitlines()[-1]


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: foleyzoo's own errors become one clear line and exit code 2.

    Lightning's and torch's messages that mean nothing to a user are filtered (:mod:`foleyzoo.training.quiet`)
    unless ``--verbose`` is given, which is passed on to child processes as ``FOLEYZOO_VERBOSE=1``.
    """
    args, verbose = split_verbose(sys.argv[1:] if argv is None else argv)
    try:
        with _verbose_environment(verbose), quieted():
            return run(args)
    except FoleyzooError as exc:
        print(f"{error_prefix(args)}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("foleyzoo: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _verbose_environment(verbose: bool) -> Iterator[None]:
    """``FOLEYZOO_VERBOSE=1`` for the command and the processes it starts, when asked; restored after."""
    if not verbose:
        yield
        return
    previous = os.environ.get(ENV_VERBOSE)
    os.environ[ENV_VERBOSE] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV_VERBOSE, None)
        else:
            os.environ[ENV_VERBOSE] = previous


if __name__ == "__main__":
    sys.exit(main())
