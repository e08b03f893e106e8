"""Quiet by default: Lightning's and torch's messages that mean nothing to a user are filtered, ``--verbose``
brings them back, and a step-bounded run's progress shows no "Epoch N/-2"."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from lightning.pytorch import Trainer
from tests.conftest import REPO_ROOT

import foleyzoo
from foleyzoo.encoders.text.byte import ByteTextEncoder
from foleyzoo.samplers.ode import EulerSampler
from foleyzoo.training import cli as training_cli
from foleyzoo.training.callbacks import EpochLabelProgressBar
from foleyzoo.training.cli import parse_config, with_safety_defaults
from foleyzoo.training.progress import PlainProgress
from foleyzoo.training.quiet import ENV_VERBOSE, QUIETED, quieted
from foleyzoo.training.toy import GaussianMixtureDataModule, ToyFlowMatching

TOY = str(REPO_ROOT / "recipes" / "toy" / "flow-2d.yaml")

FILTERED = (
    "LightningCLI's args parameter",
    "Tip: For seamless cloud",
    "isinstance(treespec, LeafSpec)",
    "module(s) in eval mode at the start of training",
    "`weights_only` was not set",
)
"""Text of each quieted message (the docs list them with why)."""

FROZEN_TEXT_ENCODER = '''
from foleyzoo.encoders.text.byte import ByteTextEncoder


class FrozenByteText(ByteTextEncoder):
    """A text encoder kept in eval mode, as foleyzoo's frozen encoders are: Lightning warns about it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.eval()

    def train(self, mode=True):
        return super().train(False)
'''


def test_every_filtered_message_is_listed_with_why() -> None:
    assert len(QUIETED) == len(FILTERED)
    assert all(item.why and (item.category is None) != (not item.loggers) for item in QUIETED)
    cli_page = (REPO_ROOT / "docs" / "cli.md").read_text()
    for text in FILTERED:
        assert text in cli_page, text


def tiny_fit(tmp_path: Path, *options: str) -> str:
    """``python -m foleyzoo [options] fit`` of the toy recipe, 2 steps with a frozen encoder; its whole output."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "fz_frozen_text.py").write_text(textwrap.dedent(FROZEN_TEXT_ENCODER))
    overlay = {
        "model": {
            "init_args": {
                "text_encoder": {
                    "class_path": "fz_frozen_text.FrozenByteText",
                    "init_args": {"embed_dim": 32},
                }
            }
        }
    }
    (tmp_path / "frozen.yaml").write_text(yaml.safe_dump(overlay))
    command = [
        sys.executable, "-m", "foleyzoo", *options, "fit", "--config", "toy/flow-2d", "--config", "frozen.yaml",
        "--trainer.max_steps=2", "--trainer.max_epochs=-1", "--trainer.limit_val_batches=0",
        "--trainer.enable_model_summary=false", f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--data.init_args.num_train=64",
        "--data.init_args.batch_size=32",
    ]  # fmt: skip
    source = str(Path(foleyzoo.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), source])}
    env.pop(ENV_VERBOSE, None)
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_a_training_run_is_quiet_and_verbose_brings_the_messages_back(tmp_path: Path) -> None:
    output = tiny_fit(tmp_path / "quiet")
    found = [text for text in FILTERED if text in output]
    assert not found, output
    assert "/-2" not in output, output  # the progress of a step-bounded run
    verbose = tiny_fit(tmp_path / "verbose", "--verbose")
    assert "module(s) in eval mode at the start of training" in verbose
    assert "LightningCLI's args parameter" in verbose  # --verbose is taken off the command line first


def test_the_training_cli_filters_lightnings_args_warning(
    recwarn: pytest.WarningsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["foleyzoo", "quickstart"])  # as when the quickstart trains in-process
    monkeypatch.delenv(ENV_VERBOSE, raising=False)
    parse_config(["fit", "--config", TOY])
    assert not [w for w in recwarn if "args parameter" in str(w.message)]
    monkeypatch.setenv(ENV_VERBOSE, "1")
    parse_config(["fit", "--config", TOY])
    assert [w for w in recwarn if "args parameter" in str(w.message)]


def test_a_step_bounded_run_is_labelled_without_a_negative_last_epoch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bar = EpochLabelProgressBar()
    for max_epochs, label in ((-1, "Epoch 137"), (None, "Epoch 137"), (15, "Epoch 137/14")):
        bar._trainer = SimpleNamespace(max_epochs=max_epochs)  # type: ignore[assignment]
        assert bar._get_train_description(137).strip() == label
    for terminal, expected in ((True, EpochLabelProgressBar), (False, PlainProgress)):
        monkeypatch.setattr(training_cli, "wants_plain_progress", lambda terminal=terminal: not terminal)
        added = [type(callback) for callback in with_safety_defaults({})["callbacks"]]
        assert expected in added and {EpochLabelProgressBar, PlainProgress} - {expected} - set(added)


class Collect(logging.Handler):
    """Keeps the messages of the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_lightnings_tip_and_weights_only_lines_are_filtered(tmp_path: Path) -> None:
    collect = Collect()
    names = {name for item in QUIETED for name in item.loggers}
    for name in names:
        logging.getLogger(name).addHandler(collect)
    try:
        for verbose in (False, True):
            with quieted(verbose=verbose):
                trainer = Trainer(
                    max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, default_root_dir=tmp_path, accelerator="cpu",
                )  # fmt: skip
                model = ToyFlowMatching(ByteTextEncoder(embed_dim=8), EulerSampler(steps=2), hidden=16)
                trainer.fit(model, GaussianMixtureDataModule(num_train=32, num_val=8, batch_size=16))
                trainer.save_checkpoint(tmp_path / "any.ckpt")  # weights_only not given: Lightning logs it
            seen = [text for text in ("Tip: For seamless", "`weights_only` was not set") if any(
                text in message for message in collect.messages
            )]  # fmt: skip
            assert seen == ([] if not verbose else ["Tip: For seamless", "`weights_only` was not set"])
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(collect)
