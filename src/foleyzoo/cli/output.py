"""Console output shared by the front-end commands (rich tables that stay whole when piped)."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; when not writing to a terminal it is wide, so piped tables are not folded."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else max(200, shutil.get_terminal_size((200, 24)).columns)
    return Console(file=stream, width=width, soft_wrap=False)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except where there is none worth showing (``None``, a flag's
    ``False``, an empty list) or the help text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or action.required
            or default is argparse.SUPPRESS
            or default is None
            or default is False
            or default in ([], "")
        ):
            return action.help
        return super()._get_help_string(action)


def rename_options(argv: Sequence[str], aliases: Mapping[str, str]) -> list[str]:
    """``argv`` with each old option spelling (``--out``, ``--out=X``, ``--shard_mb.x``) written the new way."""
    renamed = []
    for token in argv:
        if token == "--":
            renamed += argv[len(renamed) :]
            break
        for old, new in aliases.items():
            if token == old or token.startswith((f"{old}=", f"{old}.", f"{old}+")):
                token = new + token[len(old) :]
                break
        renamed.append(token)
    return renamed


class CommandParser(argparse.ArgumentParser):
    """``argparse`` with errors on one line, first and short (the usage is shown with ``--help`` only),
    defaults in the help, and old option spellings kept as hidden aliases (:meth:`add_hidden_alias`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.hidden_aliases: dict[str, str] = {}

    def add_hidden_alias(self, alias: str, option: str) -> None:
        """Accept ``alias`` (an old spelling, e.g. ``--out``) for ``option`` without listing it in the help."""
        self.hidden_aliases[alias] = option

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        """Parse with the hidden aliases written as the options they stand for."""
        if args is None:
            args = sys.argv[1:]
        return super().parse_known_args(rename_options(list(args), self.hidden_aliases), namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def finite_float(text: str) -> float:
    """An ``argparse`` type: a number that is neither NaN nor infinite."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number above 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value
