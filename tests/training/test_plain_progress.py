"""Training progress in a file: plain lines with step, loss, elapsed and ETA instead of a silent bar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from tests.conftest import REPO_ROOT

from foleyzoo.cli.main import main
from foleyzoo.training import progress

TOY = str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml")


def toy_fit(root: Path, *extra: str) -> list[str]:
    return [
        "fit",
        "--config",
        TOY,
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
        f"--trainer.logger.init_args.save_dir={root}",
        "--trainer.max_steps=6",
        "--trainer.max_epochs=-1",
        "--trainer.val_check_interval=3",
        "--trainer.limit_val_batches=1",
        "--data.init_args.num_train=256",
        "--data.init_args.batch_size=64",
        *extra,
    ]


def test_a_fit_whose_output_is_a_file_prints_plain_progress_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress.PlainProgress.__init__, "__defaults__", (0.0, None))  # a line every step
    assert main(toy_fit(tmp_path)) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if re.match(r"(training|step|validation)", line)]
    assert lines[0].startswith("training: step 0/6 (0%), epoch 0")
    assert any(
        re.match(r"step [1-5]/6 \(\d+%\), epoch \d+, .*loss [\d.e-]+, 0:\d\d elapsed, ETA 0:\d\d", line)
        for line in lines
    )
    assert any(line.startswith("validation at step 3: val") for line in lines)
    assert lines[-1].startswith("training done: step 6/6 (100%)")
    assert "\r" not in out and "Epoch" not in out  # no redrawn bar in the file


def test_plain_progress_stands_in_only_where_a_bar_is_wanted_and_none_is_configured() -> None:
    from lightning.pytorch.callbacks import TQDMProgressBar

    from foleyzoo.training.cli import with_safety_defaults

    def bars(config: dict) -> list[type]:
        callbacks = with_safety_defaults({"plugins": None, **config})["callbacks"]
        return [type(c) for c in callbacks if isinstance(c, ProgressBar)]

    assert bars({"callbacks": []}) == [progress.PlainProgress]  # pytest's output is not a terminal
    assert bars({"callbacks": [], "enable_progress_bar": False}) == []
    assert bars({"callbacks": [TQDMProgressBar()]}) == [TQDMProgressBar]
