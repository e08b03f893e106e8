"""Build objects from stored configs safely: only foleyzoo's and registered plugins' classes are allowed.

A config inside a downloaded checkpoint or bundle is code: jsonargparse imports and instantiates any
dotted path it is given where a class or a callable is expected, and it reads a string as a nested
config (YAML or JSON text, or the path of a config file). So the gate does not look at ``class_path``
keys alone. Every string of a stored config is examined *before* anything is imported:

- a ``class_path`` must name a registered plugin or a class defined in foleyzoo, ``torch.optim`` or an
  installed plugin package;
- any other dotted string (``pkg.module.Name``) that could name an importable module must pass the same
  test, wherever it stands (a bare string for a class-typed argument, an optimizer callable, ...);
- a string that parses as a YAML/JSON mapping or list, or names a readable config file, is walked too,
  since jsonargparse would read it as a nested config.

While a stored config is built, neither the current folder nor the folder the config came from is an
import root (:func:`untrusted_import_roots`), so a module shipped beside a bundle can never be imported.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foleyzoo.errors import ForbiddenClassError
from foleyzoo.plugins.registry import PluginRegistry, get_registry

ALWAYS_ALLOWED_PREFIXES: tuple[str, ...] = ("foleyzoo.", "torch.optim.")
"""foleyzoo itself, and torch's optimizers and schedulers (modules own their optimizer callables)."""

LIGHTNING_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
"""The one ``_instantiator`` LightningCLI writes into hyper-parameters; foleyzoo never imports it."""

_CLASS_KEYS = ("class_path", "_class_path")
DOTTED_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
"""What jsonargparse accepts as an import path: identifiers joined by dots."""

MAX_NESTED_FILE_BYTES = 1 << 20
"""A text file a config string names is walked as a nested config up to this size, and refused beyond it."""
MAX_NODES = 200_000
"""More values than this in one stored config (an alias bomb, say) is refused rather than walked."""


@dataclass(frozen=True)
class ConfigString:
    """A string of a config that jsonargparse might import: where it stands and whether a class key holds it."""

    key: str
    value: str
    class_key: bool


def _names_allowed_class(class_path: str, roots: tuple[str, ...]) -> bool:
    """True when the trusted module of ``class_path`` defines a class there under an allowed root.

    Only modules under foleyzoo, ``torch.optim`` and installed plugin packages are imported, which is
    safe; the object must be a class whose own module is under an allowed root too, so that a path
    through an imported module (``foleyzoo.x.os.system``) cannot reach anything else.
    """
    parts = class_path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        except Exception:
            return False
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return inspect.isclass(obj) and any(f"{obj.__module__}.".startswith(root) for root in roots)
    return False


def is_allowed_class_path(
    class_path: str, registry: PluginRegistry | None = None, extra_prefixes: Iterable[str] = ()
) -> bool:
    """True for a registered plugin (short name or dotted path) or a class under an allowed prefix."""
    registry = get_registry() if registry is None else registry
    if "." not in class_path:
        return any(record.ok and record.name == class_path for record in registry.records())
    if class_path in registry.allowed_class_paths():
        return True
    roots = (
        *ALWAYS_ALLOWED_PREFIXES,
        *(f"{package}." for package in registry.plugin_packages()),
        *extra_prefixes,
    )
    if not DOTTED_PATH.match(class_path) or not any(class_path.startswith(root) for root in roots):
        return False
    return _names_allowed_class(class_path, roots)


def could_be_imported(dotted: str, extra_dirs: Iterable[Path] = ()) -> bool:
    """Whether the top-level module of ``dotted`` exists anywhere an import could find it (nothing is run).

    Checked against ``sys.path`` *and* ``extra_dirs`` (the current folder, the config's folder), so a
    module shipped beside a bundle counts as importable even though it will not be on the path.
    """
    top = dotted.split(".", 1)[0]
    if top in sys.modules or top in sys.builtin_module_names:
        return True
    try:
        if importlib.util.find_spec(top) is not None:
            return True
        dirs = [str(folder) for folder in extra_dirs]
        return bool(dirs) and importlib.machinery.PathFinder.find_spec(top, dirs) is not None
    except (ImportError, ValueError):
        return True  # cannot tell: treat as importable


class _Walk:
    """One pass over a stored config, following nested text and files as jsonargparse would."""

    def __init__(self, base_dirs: Iterable[Path]) -> None:
        self.base_dirs = [Path(folder) for folder in base_dirs]
        self.nodes = 0
        self.seen_containers: set[int] = set()
        self.seen_files: set[Path] = set()

    def strings(self, config: Any, where: str, dirs: tuple[Path, ...]) -> Iterator[ConfigString]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ForbiddenClassError(f"refusing a config of more than {MAX_NODES} values (at {where})")
        if isinstance(config, (dict, list, tuple)):
            if id(config) in self.seen_containers:
                return
            self.seen_containers.add(id(config))
        if isinstance(config, dict):
            for key, value in config.items():
                here = f"{where}.{key}" if where else str(key)
                if key in _CLASS_KEYS and isinstance(value, str):
                    yield ConfigString(here, value, class_key=True)
                else:
                    yield from self.strings(value, here, dirs)
        elif isinstance(config, (list, tuple)):
            for index, value in enumerate(config):
                yield from self.strings(value, f"{where}[{index}]", dirs)
        elif isinstance(config, str):
            yield ConfigString(where, config, class_key=False)
            yield from self._nested(config, where, dirs)

    def _nested(self, text: str, where: str, dirs: tuple[Path, ...]) -> Iterator[ConfigString]:
        """A string read as a config: YAML/JSON text, or a config file it names."""
        parsed = _parse_structured(text)
        if parsed is not None:
            yield from self.strings(parsed, f"{where or 'the value'} (as YAML text)", dirs)
        for path in self._named_files(text, dirs):
            content = _parse_structured(_read_config_text(path, where))
            if content is not None:
                yield from self.strings(
                    content, f"{where or 'the value'} (file {path})", (*dirs, path.parent)
                )

    def _named_files(self, text: str, dirs: tuple[Path, ...]) -> list[Path]:
        if not text or "\n" in text or "\0" in text or len(text) > 4096:
            return []
        found = []
        for folder in (Path.cwd(), *self.base_dirs, *dirs):
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                candidate = (folder / Path(text).expanduser()).resolve()
                if candidate not in self.seen_files and candidate.is_file():
                    self.seen_files.add(candidate)
                    found.append(candidate)
        return found


def _parse_structured(text: str | None) -> Any:
    """``text`` as YAML when that gives a mapping or a list, else None (jsonargparse reads strings so)."""
    if not text or not any(mark in text for mark in (":", "[", "{", "-")):
        return None
    try:
        value = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    return value if isinstance(value, (dict, list)) else None


def _read_config_text(path: Path, where: str) -> str | None:
    """A named file's text, to walk as a nested config; None for a binary file (no config can be one).

    A text file too large to check is refused: jsonargparse would read it as a config all the same.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
            if b"\0" in head:
                return None
            if path.stat().st_size > MAX_NESTED_FILE_BYTES:
                raise ForbiddenClassError(
                    f"refusing {path} (named at {where or 'the top level'}): a text file of more than "
                    f"{MAX_NESTED_FILE_BYTES >> 20} MiB could be read as a config and is too large to check"
                )
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def iter_config_strings(
    config: Any, base_dirs: Iterable[Path] = (), key_prefix: str = ""
) -> Iterator[ConfigString]:
    """Every string of a nested config that jsonargparse might resolve, nested text and files included."""
    yield from _Walk(base_dirs).strings(config, key_prefix, ())


def iter_class_paths(config: Any, where: str = "") -> Iterable[tuple[str, str]]:
    """Every (key path, class path) under a ``class_path`` key of a nested config of dicts and lists."""
    if isinstance(config, dict):
        for key, value in config.items():
            here = f"{where}.{key}" if where else str(key)
            if key in _CLASS_KEYS and isinstance(value, str):
                yield here, value
            else:
                yield from iter_class_paths(value, here)
    elif isinstance(config, (list, tuple)):
        for index, value in enumerate(config):
            yield from iter_class_paths(value, f"{where}[{index}]")


def check_config_allowed(
    config: Any,
    source: str = "config",
    registry: PluginRegistry | None = None,
    extra_prefixes: Iterable[str] = (),
    base_dirs: Iterable[Path] = (),
    key_prefix: str = "",
) -> None:
    """Raise :class:`ForbiddenClassError` naming the source and key of the first string that could
    import or build anything outside foleyzoo, ``torch.optim`` and the registered plugins.

    ``base_dirs`` are folders relative paths in the config may point into (the config's own folder);
    ``key_prefix`` is where the config stands in its file (``parts.codec.config``), for the message.
    """
    registry = get_registry() if registry is None else registry
    base_dirs = list(base_dirs)
    search_dirs = [Path.cwd(), *base_dirs]
    walked = {k: v for k, v in config.items() if k != "_instantiator"} if isinstance(config, dict) else config
    for item in iter_config_strings(walked, base_dirs, key_prefix):
        if item.class_key:
            refused = not is_allowed_class_path(item.value, registry, extra_prefixes)
        else:
            refused = (
                bool(DOTTED_PATH.match(item.value))
                and could_be_imported(item.value, search_dirs)
                and not is_allowed_class_path(item.value, registry, extra_prefixes)
            )
        if refused:
            what = "build" if item.class_key else "import"
            raise ForbiddenClassError(
                f"{source}: refusing to {what} {item.value!r} (at {item.key or 'the top level'}): only "
                "foleyzoo's classes and registered plugins may be named in a stored config. If you trust "
                "this class, install it as a foleyzoo plugin (see `foleyzoo plugins`)."
            )
    instantiator = config.get("_instantiator") if isinstance(config, dict) else None
    if instantiator is not None and instantiator != LIGHTNING_INSTANTIATOR:
        raise ForbiddenClassError(f"{source}: refusing unknown _instantiator {instantiator!r}")


def _same_folder(entry: str, folders: list[str]) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return os.path.realpath(entry or os.curdir) in folders
    return False


@contextlib.contextmanager
def untrusted_import_roots(*folders: str | Path) -> Iterator[None]:
    """Within the block, neither the current folder nor ``folders`` is on ``sys.path``.

    ``python -c``, ``python -m`` and notebooks put the current folder first on the path: a module a
    bundle ships beside its config would then be importable by name while the bundle is built.
    """
    refused = [os.path.realpath(folder) for folder in (os.curdir, *folders)]
    saved = list(sys.path)
    sys.path[:] = [entry for entry in saved if not _same_folder(entry, refused)]
    try:
        yield
    finally:
        sys.path[:] = saved + [entry for entry in sys.path if entry not in saved]


def instantiate_from_config(
    config: Any,
    base: type,
    source: str = "config",
    registry: PluginRegistry | None = None,
    base_dirs: Iterable[str | Path] = (),
    key_prefix: str = "",
) -> Any:
    """Build ``{"class_path": ..., "init_args": {...}}`` as a subclass of ``base`` after the allowlist check.

    jsonargparse does the building, exactly as the CLI does, so nested class configs and optimizer
    callables come out the same as in ``foleyzoo fit``. ``base_dirs`` are the folders the config came
    from: relative paths may point into them, and they are never import roots while it is built.
    """
    from jsonargparse import ArgumentParser

    registry = get_registry() if registry is None else registry
    folders = [Path(folder) for folder in base_dirs]
    check_config_allowed(config, source, registry, base_dirs=folders, key_prefix=key_prefix)
    registry.resolve_mentioned(item.value for item in iter_config_strings(config, folders))
    with untrusted_import_roots(*folders):
        parser = ArgumentParser(exit_on_error=False)
        parser.add_subclass_arguments(base, "obj", required=True)
        namespace = parser.parse_object({"obj": config})
        return parser.instantiate_classes(namespace).obj
