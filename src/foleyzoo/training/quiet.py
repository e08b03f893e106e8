"""Quiet by default: the Lightning and torch messages that tell a foleyzoo user nothing are filtered out.

Each filtered message is listed in :data:`QUIETED` with why it is filtered (the same list is in
``docs/cli.md``). The ``foleyzoo`` console script and :class:`~foleyzoo.training.cli.FoleyCLI` run
inside :func:`quieted`; ``foleyzoo --verbose COMMAND`` (or ``FOLEYZOO_VERBOSE=1``, which child
processes inherit) turns every filter off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ENV_VERBOSE", "QUIETED", "Quieted", "quieted", "verbose_requested"]

ENV_VERBOSE = "FOLEYZOO_VERBOSE"
"""Set to 1 (``foleyzoo --verbose`` does, for its own process and the ones it starts) to show everything."""


@dataclass(frozen=True)
class Quieted:
    """One filtered message: a regular expression matching its start, where it comes from, and why."""

    pattern: str
    why: str
    category: type[Warning] | None = None
    """The warning category for a ``warnings.warn`` message; None for a log record."""
    loggers: tuple[str, ...] = ()
    """The loggers that emit it, for a log record."""


QUIETED: tuple[Quieted, ...] = (
    Quieted(
        r"LightningCLI's args parameter is intended to run from within Python",
        "foleyzoo passes the command line to LightningCLI itself (after reading recipe names and "
        "--verbose), which Lightning mistakes for a mix of two command lines",
        category=UserWarning,
    ),
    Quieted(
        r"💡 Tip: For seamless cloud",
        "an advertisement for Lightning's cloud services (litlogger, litmodels), logged at every run",
        loggers=("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"),
    ),
    Quieted(
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        "a deprecation inside Lightning's own code (its _pytree helper) on newer torch; nothing a "
        "user can change",
        category=FutureWarning,
    ),
    Quieted(
        r"Found \d+ module\(s\) in eval mode at the start of training",
        "foleyzoo keeps frozen encoders, codecs and vocoders in eval mode on purpose (FrozenMixin), "
        "so every video-to-audio recipe would show it",
        category=Warning,
    ),
    Quieted(
        r"`weights_only` was not set, defaulting to `False`",
        "logged by Lightning when it saves a checkpoint without being told what to keep (its SLURM "
        "requeue handler, OnExceptionCheckpoint, the tuner); foleyzoo's own saves pass weights_only, "
        "and every checkpoint foleyzoo reads is read with weights_only=True",
        loggers=("lightning.pytorch.trainer.connectors.checkpoint_connector",),
    ),
)
"""Every message foleyzoo filters out unless ``--verbose`` is given, with why."""


def verbose_requested() -> bool:
    """Whether ``FOLEYZOO_VERBOSE`` asks for every message (``foleyzoo --verbose`` sets it)."""
    return os.environ.get(ENV_VERBOSE, "").strip().lower() not in ("", "0", "false", "no", "off")


class _MessageFilter(logging.Filter):
    """Drops log records whose message starts with one of the quieted patterns."""

    def __init__(self, patterns: list[re.Pattern[str]]) -> None:
        super().__init__()
        self.patterns = patterns

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern.match(message) for pattern in self.patterns)


def _log_filters() -> dict[str, _MessageFilter]:
    """Logger name → a filter of the quieted messages that logger emits."""
    patterns: dict[str, list[re.Pattern[str]]] = {}
    for item in QUIETED:
        for name in item.loggers:
            patterns.setdefault(name, []).append(re.compile(item.pattern))
    return {name: _MessageFilter(found) for name, found in patterns.items()}


@contextlib.contextmanager
def quieted(verbose: bool | None = None) -> Iterator[None]:
    """Filter the :data:`QUIETED` messages inside the block, unless ``verbose`` (default: the environment).

    Warning filters are restored on exit (``warnings.catch_warnings``) and log filters removed, so a
    caller in the same process (a test, a notebook) is left as it was.
    """
    if verbose_requested() if verbose is None else verbose:
        yield
        return
    filters = _log_filters()
    with warnings.catch_warnings():
        for item in QUIETED:
            if item.category is not None:
                warnings.filterwarnings("ignore", message=item.pattern, category=item.category)
        for name, log_filter in filters.items():
            logging.getLogger(name).addFilter(log_filter)
        try:
            yield
        finally:
            for name, log_filter in filters.items():
                logging.getLogger(name).removeFilter(log_filter)
