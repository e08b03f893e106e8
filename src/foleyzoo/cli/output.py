"""Console output shared by the front-end commands (rich tables that stay whole when piped)."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from typing import NoReturn

from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; when not writing to a terminal it is wide, so piped tables are not folded."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else max(200, shutil.get_terminal_size((200, 24)).columns)
    return Console(file=stream, width=width, soft_wrap=False)


class CommandParser(argparse.ArgumentParser):
    """``argparse`` with errors on one line, first and short: the usage is shown with ``--help`` only."""

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
