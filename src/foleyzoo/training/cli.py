"""``foleyzoo fit|validate|test|predict``: LightningCLI with plugins loaded first and safe checkpoints.

Subclass mode for model and data (any registered LightningModule / LightningDataModule by short name),
``auto_configure_optimizers`` off (modules own their optimizer callables: a GAN codec needs two), a
config saved beside each run that never aborts a second run in the same folder, and ``--ckpt_path``
hyper-parameters checked against the class allowlist before anything in them is imported. Before
parsing, every class a command line names is checked: a broken plugin, a missing plugin package or an
unknown ``class_path`` (with the close matches among registered plugins) is one clear error naming the
file and key. A ``--config`` may name a recipe (``toy/flow-2d``); a parse error (an unknown key, a wrong
type) is one line naming the option or the config file and key, with the closest valid keys
(:mod:`foleyzoo.training.parse_errors`); Lightning's noise is filtered (:mod:`foleyzoo.training.quiet`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.strategies import Strategy

from foleyzoo.errors import ConfigError, FoleyzooError, PluginError
from foleyzoo.io.checkpoints import check_resumable, check_stored_config, read_checkpoint, stored_shapes
from foleyzoo.plugins.allowlist import iter_class_paths
from foleyzoo.plugins.records import PluginStatus
from foleyzoo.plugins.registry import PluginRegistry, describe_unusable, load_plugins
from foleyzoo.training.callbacks import EpochLabelProgressBar, NonFiniteGuard, SaveLastAtEnd
from foleyzoo.training.checkpoint_io import AtomicCheckpointIO
from foleyzoo.training.parse_errors import CONFIG_FLAGS, ShortErrors, config_files
from foleyzoo.training.progress import PlainProgress, wants_plain_progress
from foleyzoo.training.quiet import quieted

CLASS_OPTIONS = (
    "--model",
    "--data",
    "--trainer.logger",
    "--trainer.callbacks",
    "--optimizer",
    "--lr_scheduler",
)
"""Command-line options whose value is a class (a name or a dotted path), besides ``--*.class_path``."""

_CLASS_NAME = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*$")
"""A short class name (``EulerSampler``) or a dotted path ending in one (``foleyzoo.samplers.ode.EulerSampler``)."""


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


class ShortErrorParser(ShortErrors, LightningArgumentParser):
    """LightningCLI's parser with errors on one line, first and short (the usage is shown with ``--help``
    only): an unknown key is named as the user wrote it, with the closest valid keys."""

    def error_prefix(self, parser: Any) -> str:
        """``foleyzoo fit`` (the subcommand whose parser failed), else ``foleyzoo``."""
        return command_name(parser)


def command_name(parser: Any) -> str:
    """``foleyzoo fit`` for a subcommand's parser (its prog ends with the subcommand), else ``foleyzoo``."""
    last = str(getattr(parser, "prog", "")).split()[-1:] or [""]
    return f"foleyzoo {last[0]}" if last[0] in ("fit", "validate", "test", "predict") else "foleyzoo"


_INLINE_CONFIG = re.compile(r"[{\n]|: ")
"""What marks a ``--config`` value as config text rather than a path (jsonargparse accepts both)."""


def config_path(value: str, option: str = "--config") -> str:
    """A ``--config`` value with a recipe name (``toy/flow-2d``) replaced by its file's path.

    An existing path, and YAML or JSON text given in place of a file, are kept as they are; a value that
    is neither a file nor a recipe is one error.
    """
    from foleyzoo.plugins.recipes import resolve_config_path

    return value if _INLINE_CONFIG.search(value) else str(resolve_config_path(value, option))


def with_recipe_paths(args: Sequence[str]) -> list[str]:
    """The command line with each ``--config``/``-c`` recipe name replaced by its file's path."""
    resolved = list(args)
    for index, token in enumerate(resolved):
        if token in CONFIG_FLAGS and index + 1 < len(resolved):
            resolved[index + 1] = config_path(resolved[index + 1], token)
        elif token.startswith("--config="):
            resolved[index] = f"--config={config_path(token.split('=', 1)[1])}"
    return resolved


class FoleyCLI(LightningCLI):
    """The LightningCLI behind ``foleyzoo fit|validate|test|predict``."""

    reads_files = True
    """False where a command line is only parsed (a missing ``--ckpt_path`` file is then no error)."""

    def __init__(self, args: Sequence[str] | None = None, run: bool = True, **kwargs: Any) -> None:
        registry = load_plugins()
        given = sys.argv[1:] if args is None else args
        if not isinstance(given, dict):
            given = with_recipe_paths(list(given))  # a recipe's name works wherever its path does
            registry.resolve_mentioned(mentions(given))  # short names resolve among imported classes
            check_named_plugins(given, registry)
            check_known_classes(given, registry)
            args = None if given == sys.argv[1:] else given  # the console script: LightningCLI reads sys.argv
        self._command_line = [] if isinstance(given, dict) else list(given)
        kwargs.setdefault("save_config_callback", RunConfigCallback)
        kwargs.setdefault("parser_class", ShortErrorParser)
        kwargs.setdefault("parser_kwargs", {"prog": "foleyzoo"})  # not __main__.py under python -m foleyzoo
        with quieted():
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

    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        """LightningCLI's parser, told the command line so that its errors can say where a bad key was given."""
        parser = super().init_parser(**kwargs)
        if isinstance(parser, ShortErrorParser):
            parser.command_line = self._command_line
        return parser

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse, then check ``--ckpt_path`` before LightningCLI reads the hyper-parameters stored in it."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        self._stored = check_ckpt_path(ckpt_path, must_exist=self.reads_files) if ckpt_path else None

    def before_instantiate_classes(self) -> None:
        """Checkpoints are read with ``weights_only=True`` unless ``--weights_only false`` says otherwise."""
        subcommand = self.config.get("subcommand")
        if (
            subcommand
            and "weights_only" in self.config[subcommand]
            and self.config[subcommand].weights_only is None
        ):
            self.config[subcommand].weights_only = True

    def instantiate_classes(self) -> None:
        """Build as LightningCLI does, then refuse a ``--ckpt_path`` of another model, naming its mismatched parameters."""
        super().instantiate_classes()
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path") if self.subcommand else None
        if ckpt_path and self._stored is not None:
            shapes, has_optimizer_states = self._stored
            check_resumable(ckpt_path, self.model, shapes)
            if self.subcommand == "fit" and not has_optimizer_states:
                raise ConfigError(
                    f"--ckpt_path {ckpt_path}: holds no optimizer states (saved with weights only), so "
                    "training cannot resume from it; start a new run and load its weights instead"
                )

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The trainer, with foleyzoo's safety defaults where the recipe names none of its own."""
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        trainer_config = {**(config.get("trainer") or {}), **kwargs}
        return super().instantiate_trainer(**with_safety_defaults(trainer_config))


LIGHTNING_CKPT_NAMES = ("last", "best", "hpc")
"""``--ckpt_path`` values Lightning resolves to checkpoints of the run itself (read with weights_only)."""


def check_ckpt_path(ckpt_path: str, must_exist: bool = True) -> tuple[dict[str, Any], bool] | None:
    """Refuse a ``--ckpt_path`` foleyzoo cannot read safely, with one line naming it. For a checkpoint
    file: its parameter shapes (checked against the model once built) and whether it can resume training.

    A URL is refused (Lightning would download and unpickle it): download the file yourself first.
    A local file is read with ``weights_only=True`` and its stored config goes through the class
    allowlist before anything in it is imported. A folder is accepted only as a distributed checkpoint.
    """
    text = str(ckpt_path)
    if text in LIGHTNING_CKPT_NAMES or text.startswith("registry"):
        return None
    if "://" in text:
        raise ConfigError(
            f"--ckpt_path {text}: foleyzoo does not load checkpoints from URLs (that would unpickle a remote "
            "file); download it first (e.g. `curl -L -o model.ckpt URL`) and pass the local file"
        )
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / ".metadata").is_file():
            return None  # a distributed (sharded) checkpoint: its strategy reads it
        raise ConfigError(
            f"--ckpt_path {path}: is a folder, not a checkpoint file (nor a sharded checkpoint)"
        )
    if not path.is_file():
        if not must_exist:
            return None
        raise ConfigError(f"--ckpt_path {path}: no such checkpoint file")
    checkpoint = read_checkpoint(path)
    check_stored_config(checkpoint, path)
    return stored_shapes(checkpoint["state_dict"]), bool(checkpoint.get("optimizer_states"))


def with_safety_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Trainer arguments with an atomic checkpoint writer, a :class:`NonFiniteGuard` and a
    :class:`SaveLastAtEnd` added, unless the recipe already chose a checkpoint plugin or configured
    them (a strategy object that carries its own checkpoint writer is left alone). Where no progress bar
    is configured, :class:`PlainProgress` stands in for Lightning's bar when the output is not a terminal,
    and :class:`EpochLabelProgressBar` (no "Epoch 137/-2" for a step-bounded run) when it is."""
    config = dict(config)
    plugins = config.get("plugins") or []
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
    strategy = config.get("strategy")
    owns_io = isinstance(strategy, Strategy) and getattr(strategy, "_checkpoint_io", None) is not None
    if not owns_io and not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
        plugins.append(AtomicCheckpointIO())
    config["plugins"] = plugins or None
    callbacks = config.get("callbacks") or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    for default in (NonFiniteGuard, SaveLastAtEnd):
        if not any(isinstance(callback, default) for callback in callbacks):
            callbacks.append(default())
    wants_bar = config.get("enable_progress_bar") is not False
    has_bar = any(isinstance(callback, ProgressBar) for callback in callbacks)
    if wants_bar and not has_bar:
        # Lightning's bars draw nothing useful in a file; on a terminal, its rich bar without "Epoch 3/-2"
        callbacks.append(PlainProgress() if wants_plain_progress() else EpochLabelProgressBar())
    config["callbacks"] = callbacks
    return config


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


def mentions(args: Sequence[str]) -> list[str]:
    """The command line and the text of its config files: where a plugin a run needs is named."""
    texts = list(args)
    for file in config_files(args):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            texts.append(Path(file).read_text())
    return texts


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


def loaded_class_names() -> set[str]:
    """The names of every class loaded in this process (all subclasses of ``object``, recursively).

    jsonargparse resolves a short ``class_path`` among the loaded subclasses of the type it expects, so a
    short name outside this set cannot be resolved by it either (Lightning's loggers, callbacks and
    torch's optimizers are loaded with Lightning, before any config is read).
    """
    names: set[str] = set()
    seen: set[int] = set()
    stack: list[type] = [object]
    while stack:
        cls = stack.pop()
        try:
            subclasses = type.__subclasses__(cls)
        except TypeError:  # a metaclass
            subclasses = cls.__subclasses__()
        for sub in subclasses:
            if id(sub) not in seen:
                seen.add(id(sub))
                names.add(sub.__name__)
                stack.append(sub)
    return names


def _import_problem(class_path: str) -> tuple[type[FoleyzooError], str] | None:
    """Why a dotted ``class_path`` cannot be imported (its package is not installed, or has no such
    class), or None when it can, or when importing fails for another reason that jsonargparse reports."""
    parts = class_path.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):  # an empty or malformed top-level name
        spec = None
    if spec is None:
        return PluginError, (
            f"no installed package provides the module {parts[0]!r} (is the plugin that ships it installed?)"
        )
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj: object = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not a module: the name goes on inside a shorter one
            return None
        except Exception:  # a module that fails to import: jsonargparse shows its error
            return None
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return ConfigError, f"the module {module_name!r} has no {'.'.join(parts[cut:])!r}"
            obj = getattr(obj, attr)
        if not inspect.isclass(obj) and not _returns_a_class(obj):
            return ConfigError, f"it is a {type(obj).__name__}, not a class"
        return None
    return ConfigError, f"{class_path!r} is not an importable class path"


def _returns_a_class(obj: object) -> bool:
    """Whether ``obj`` is a factory jsonargparse accepts in place of a class (its return type is a class)."""
    try:
        returned = inspect.signature(obj).return_annotation  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return returned is not inspect.Signature.empty and inspect.isclass(returned)


def unknown_class_problem(
    name: str, registry: PluginRegistry, loaded: set[str]
) -> tuple[type[FoleyzooError], str] | None:
    """Why ``name`` (a config's class_path) names no class jsonargparse could build, or None if it can."""
    if registry.find(name):
        return None  # a plugin, usable or not (check_named_plugins explains an unusable one)
    if "." in name:
        return _import_problem(name)
    if name in loaded:
        return None
    return ConfigError, "it is neither a registered plugin nor a loaded class"


def did_you_mean(name: str, registry: PluginRegistry) -> str:
    """The close matches among registered plugins, as one sentence for an error message."""
    groups: dict[tuple[str, str], list[str]] = {}  # one entry a class, whatever groups register it
    for record in registry.close_matches(name):
        groups.setdefault((record.name, record.class_path), []).append(record.group)
    if not groups:
        return "No registered plugin has a similar name; `foleyzoo plugins` lists them all."
    listing = ", ".join(f"{short} ({path}, {', '.join(where)})" for (short, path), where in groups.items())
    return f"Did you mean {listing}? `foleyzoo plugins` lists every registered plugin."


def class_options(args: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(option, value) for the command-line options that may name a class (``--x=V`` or ``--x V``)."""
    for index, token in enumerate(args):
        if not token.startswith("--"):
            continue
        if "=" in token:
            option, value = token.split("=", 1)
        elif index + 1 < len(args) and not args[index + 1].startswith("-"):
            option, value = token, args[index + 1]
        else:
            continue
        option = option.rstrip("+")  # --trainer.callbacks+=ModelCheckpoint appends
        if _CLASS_NAME.match(value):
            yield option, value


def check_known_classes(args: Sequence[str], registry: PluginRegistry) -> None:
    """Fail early, with the close matches among registered plugins, when a recipe names an unknown class.

    Every class_path of the ``--config`` files is checked; on the command line, values of class options
    (``--model``, ``--*.class_path``, ...) are, and other values only when they look like a misspelt
    plugin (a class-like name with close matches), so that an ordinary string argument is never refused.
    The error names the file and key (or the option), the problem and the close matches.
    """
    loaded = loaded_class_names()
    for file in config_files(args):
        if Path(file).is_file():
            for key, class_path in iter_class_paths(read_yaml(file)):
                _raise_if_unknown(f"{file}: {key}", class_path, registry, loaded)
    for option, value in class_options(args):
        if option.endswith("class_path") or option in CLASS_OPTIONS or registry.close_matches(value):
            _raise_if_unknown(f"the command line: {option}", value, registry, loaded)


def _raise_if_unknown(where: str, name: str, registry: PluginRegistry, loaded: set[str]) -> None:
    """Raise the error :func:`unknown_class_problem` finds for ``name``, naming ``where``."""
    problem = unknown_class_problem(name, registry, loaded)
    if problem is not None:
        error, reason = problem
        raise error(f"{where}: unknown class_path {name!r}: {reason}. {did_you_mean(name, registry)}")


class _NothingToRun:
    """Stands in for the trainer of a command line that is only parsed: its subcommands do nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: None


class _ParseOnlyCLI(FoleyCLI):
    """Parses and validates a command line like ``foleyzoo fit`` would, without building or running anything."""

    reads_files = False

    def instantiate_classes(self) -> None:
        self.config_init, self.model, self.datamodule = self.config, None, None
        self.trainer = _NothingToRun()  # type: ignore[assignment]


def run(args: Sequence[str]) -> int:
    """Run ``foleyzoo fit|validate|test|predict ARGS`` in this process; 0 when it finished.

    foleyzoo's own errors propagate (the console script prints them as one line).
    """
    FoleyCLI(args=list(args))
    return 0


def parse_config(args: Sequence[str]) -> Any:
    """The validated config namespace of ``foleyzoo SUBCOMMAND ...`` (class paths resolved), nothing built."""
    return _ParseOnlyCLI(args=list(args)).config
