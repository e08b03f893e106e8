"""Progress of ``foleyzoo generate`` that shows everywhere: Rich bars on a terminal, plain lines elsewhere.

A log file, CI, ``nohup`` or a notebook gets a line per file and, while a file generates, a line at most
every :data:`PLAIN_EVERY` seconds (window group, sampler step, elapsed, ETA), so a long video is never silent.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console

from foleyzoo.pipeline import GenerationProgress
from foleyzoo.training.progress import clock

__all__ = ["PLAIN_EVERY", "GenerationDisplay", "describe"]

PLAIN_EVERY = 10.0
"""Seconds between two plain progress lines of one file."""


def describe(event: GenerationProgress) -> str:
    """One line for a progress event: window group, step, elapsed and the ETA of the sampling."""
    if event.stage != "sampling":
        return f"{event.stage}, {clock(event.elapsed)} elapsed"
    done = event.fraction
    eta = event.elapsed * (1 - done) / done if done > 0 else None
    windows = f"windows {event.group}/{event.groups}, " if event.groups > 1 else ""
    return f"{windows}step {event.step}/{event.steps}, {clock(event.elapsed)} elapsed" + (
        f", ETA {clock(eta)}" if eta is not None else ""
    )


class GenerationDisplay:
    """Files done out of ``total`` and the current file's sampling, as bars or as plain lines."""

    def __init__(self, total: int, console: Console, plain: bool | None = None) -> None:
        self.total, self.console = total, console
        self.plain = not console.is_terminal if plain is None else plain
        self.done = 0
        self.name = ""
        self.last_line = 0.0
        self.progress = None

    def __enter__(self) -> GenerationDisplay:
        if not self.plain:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.__enter__()
            self.files = self.progress.add_task("files", total=self.total)
            self.steps = self.progress.add_task("sampling", total=1, visible=False)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.__exit__(kind, error, trace)

    def start(self, name: str) -> None:
        """A file starts."""
        self.name = name
        self.last_line = time.monotonic()
        if self.progress is not None:
            self.progress.reset(self.steps, total=1, description=name, visible=True)

    def update(self, event: GenerationProgress) -> None:
        """A progress event of the current file (the pipeline's callback)."""
        if self.progress is not None:
            total = event.steps * event.groups
            completed = total if event.stage != "sampling" else (event.group - 1) * event.steps + event.step
            label = f"{self.name} ({event.stage})" if event.stage != "sampling" else self.name
            self.progress.update(self.steps, total=total, completed=completed, description=label)
            return
        now = time.monotonic()
        if event.stage == "sampling" and now - self.last_line < PLAIN_EVERY:
            return
        self.last_line = now
        self.console.print(f"  {self.name}: {describe(event)}", highlight=False, markup=False)

    def finish(self, outcome: str) -> None:
        """The current file is done (``written``, ``skipped …``, ``failed``)."""
        self.done += 1
        if self.progress is not None:
            self.progress.update(self.steps, visible=False)
            self.progress.advance(self.files)
        else:
            self.console.print(
                f"[{self.done}/{self.total}] {self.name}: {outcome}", highlight=False, markup=False
            )
