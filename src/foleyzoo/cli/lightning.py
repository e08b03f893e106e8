"""``foleyzoo fit|validate|test|predict``: LightningCLI with plugins loaded first and safe checkpoints.

Subclass mode for model and data (any registered LightningModule / LightningDataModule by short name),
``auto_configure_optimizers`` off (modules own their optimizer callables: a GAN codec needs two), a
config saved beside each run that never aborts a second run in the same folder, and ``--ckpt_path``
hyper-parameters checked against the class allowlist before anything in them is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

from foleyzoo.errors import ConfigError, PluginError
from foleyzoo.plugins.allowlist import check_config_allowed, iter_class_paths
from foleyzoo.plugins.records import PluginStatus
from foleyzoo.plugins.registry import PluginRegistry, describe_unusable, load_plugins

CONFIG_FLAGS = ("--config", "-c")


class RunConfigCallback(SaveConfigCallback):
    """Saves the run's full config as ``config.yaml`` in the log folder, without ever destroying one.

    An identical config already there is kept; a different one stays and the new one is written as
    ``config-1.yaml``, ``config-2.yaml``, … so a second run in the same folder neither crashes nor
    overwrites the record of the first.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        log_dir = trainer.log_dir  # broadcasts: every rank must ask
        if trainer.is_global_zero and log_dir is not None:
            text = self.parser.dump(self.config, skip_none=False)
            target = free_config_path(Path(log_dir), self.config_filename, text)
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            self.save_config(trainer, pl_module, stage)
        self.already_saved = trainer.strategy.broadcast(True)


def free_config_path(log_dir: Path, filename: str, text: str) -> Path | None:
    """Where to write ``text``: ``None`` when an identical copy exists, else the first unused name."""
    stem, suffix = os.path.splitext(filename)
    candidate, index = log_dir / filename, 0
    while candidate.exists():
        if candidate.read_text() == text:
            return None
        index += 1
        candidate = log_dir / f"{stem}-{index}{suffix}"
    return candidate


class FoleyCLI(LightningCLI):
    """The LightningCLI behind ``foleyzoo fit|validate|test|predict``."""

    def __init__(self, args: Sequence[str] | None = None, run: bool = True, **kwargs: Any) -> None:
        registry = load_plugins()
        if args is not None and not isinstance(args, dict):
            check_named_plugins(list(args), registry)
        kwargs.setdefault("save_config_callback", RunConfigCallback)
        if args is not None and list(args) == sys.argv[1:]:
            args = None  # the console script: let LightningCLI read sys.argv itself
        super().__init__(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,
            args=args,
            run=run,
            **kwargs,
        )

    def _parse_ckpt_path(self) -> None:
        """Refuse a checkpoint whose stored config names classes outside the allowlist, then resume as usual."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and Path(ckpt_path).is_file():
            try:
                checkpoint = torch.load(ckpt_path, weights_only=True, map_location="cpu")
            except Exception as exc:
                raise ConfigError(
                    f"{ckpt_path}: not a readable checkpoint ({type(exc).__name__}: {exc})"
                ) from exc
            check_config_allowed(checkpoint.get("hyper_parameters") or {}, source=str(ckpt_path))
        super()._parse_ckpt_path()


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; a syntax error is reported with the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: YAML syntax error at {where}: {problem}") from exc


def config_files(args: Sequence[str]) -> list[str]:
    """The files passed with ``--config``/``-c`` in a command line."""
    files = []
    for index, token in enumerate(args):
        if token in CONFIG_FLAGS and index + 1 < len(args):
            files.append(args[index + 1])
        elif token.startswith("--config="):
            files.append(token.split("=", 1)[1])
    return files


def named_classes(args: Sequence[str]) -> Iterable[tuple[str, str]]:
    """(where, name) for every class path in the config files and every value on the command line."""
    for file in config_files(args):
        if Path(file).is_file():
            for key, class_path in iter_class_paths(read_yaml(file)):
                yield f"{file}: {key}", class_path
    for token in args:
        value = token.split("=", 1)[1] if token.startswith("--") and "=" in token else token
        yield "the command line", value


def check_named_plugins(args: Sequence[str], registry: PluginRegistry) -> None:
    """Fail early, naming plugin, package and error, when a recipe names a broken or ambiguous plugin."""
    for where, name in named_classes(args):
        records = registry.find(name)
        if any(record.ok for record in records):
            continue
        # a full dotted path picks one class unambiguously, so a name conflict does not block it
        blocking = [r for r in records if not (r.status is PluginStatus.CONFLICT and "." in name)]
        if blocking:
            raise PluginError(f"{where} names {name!r}, but {describe_unusable(blocking)}")


class _ParseOnlyCLI(FoleyCLI):
    """Parses and validates a command line like ``foleyzoo fit`` would, without building or running anything."""

    def instantiate_classes(self) -> None:
        pass

    def _run_subcommand(self, subcommand: str) -> None:
        pass


def parse_config(args: Sequence[str]) -> Any:
    """The validated config namespace of ``foleyzoo SUBCOMMAND ...`` (class paths resolved), nothing built."""
    return _ParseOnlyCLI(args=list(args)).config
