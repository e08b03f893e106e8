"""Training progress as plain text lines, for output that is not a terminal (a log file, CI, nohup, a notebook).

Lightning's progress bars redraw one line in place, which a file cannot show: Rich's draws nothing there
at all. :class:`PlainProgress` prints a whole line at most every ``every`` seconds (step, epoch, loss,
elapsed, ETA), one after each validation, and one at the end, so a long run is never silent.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

__all__ = ["PlainProgress", "clock", "wants_plain_progress"]


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (or ``h:mm:ss``)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def wants_plain_progress(stream: TextIO | None = None) -> bool:
    """Whether progress should be plain lines: the output is not a terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return True


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class PlainProgress(ProgressBar):
    """A progress bar for files: ``step 340/2800 (12%), epoch 12, loss 0.512, 1:23 elapsed, ETA 9:40``."""

    def __init__(self, every: float = 30.0, stream: TextIO | None = None) -> None:
        super().__init__()
        self.every = every
        self.stream = stream
        self._enabled = True
        self._started = 0.0
        self._last = 0.0
        self._seconds_per_step: float | None = None  # smoothed over the intervals between lines
        self._mark = (0.0, 0)  # (time, step) of the last line

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def _write(self, text: str) -> None:
        if self._enabled and self.trainer.is_global_zero:
            print(text, file=self.stream or sys.stdout, flush=True)

    def _metrics(self, pl_module: LightningModule, validation: bool) -> str:
        items = self.get_metrics(self.trainer, pl_module)
        shown = []
        for name, value in items.items():
            number = _number(value)
            if number is None or name == "v_num" or name.startswith("val") != validation:
                continue
            shown.append(f"{name} {number:.4g}")
        return ", ".join(shown)

    def line(self, pl_module: LightningModule) -> str:
        """Where training stands, as one line."""
        trainer = self.trainer
        step, total = trainer.global_step, trainer.estimated_stepping_batches
        elapsed = time.monotonic() - self._started
        known = isinstance(total, (int, float)) and math.isfinite(total) and total > 0
        parts = [f"step {step}/{int(total)} ({100 * step / total:.0f}%)" if known else f"step {step}"]
        parts.append(f"epoch {trainer.current_epoch}")
        metrics = self._metrics(pl_module, validation=False)
        if metrics:
            parts.append(metrics)
        parts.append(f"{clock(elapsed)} elapsed")
        pace = self._pace(step, elapsed)
        if known and pace is not None and step < total:
            parts.append(f"ETA {clock(pace * (total - step))}")
        return ", ".join(parts)

    def _pace(self, step: int, elapsed: float) -> float | None:
        """Seconds a step, from recent intervals (a first epoch that builds a data cache, or a validation,
        would make the average since the start overestimate the time left for a long while)."""
        then, previous = self._mark
        if step > previous:
            recent = (elapsed - then) / (step - previous)
            old = self._seconds_per_step
            self._seconds_per_step = recent if old is None else 0.5 * old + 0.5 * recent
            self._mark = (elapsed, step)
        return self._seconds_per_step

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = self._last = time.monotonic()
        self._seconds_per_step, self._mark = None, (0.0, trainer.global_step)
        self._write(f"training: {self.line(pl_module)}")

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._write(self.line(pl_module))

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = self._metrics(pl_module, validation=True)
        if metrics:
            self._write(f"validation at step {trainer.global_step}: {metrics}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._write(f"training done: {self.line(pl_module)}")
