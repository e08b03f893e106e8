"""Entry-point discovery: load every ``foleyzoo.*`` plugin, validate it, and isolate the broken ones.

foleyzoo's own built-ins come through the same entry points as third-party plugins (see pyproject.toml),
so one mechanism serves both. Loading happens before any parser is built, so that jsonargparse can
resolve short class names (``class_path: EulerSampler``) for every registered plugin.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import os
import re
import signal
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from foleyzoo.api import API_VERSION, INTERFACE_GROUPS, api_version_compatible
from foleyzoo.errors import PluginError
from foleyzoo.plugins.records import PluginRecord, PluginStatus

GROUP_PREFIX = "foleyzoo."
RECIPES_GROUP = "foleyzoo.recipes"
LIGHTNING_GROUPS = ("foleyzoo.modules", "foleyzoo.datamodules")
BUILTIN_DISTRIBUTION = "foleyzoo"
ENV_PLUGINS = "FOLEYZOO_PLUGINS"
ENV_DISABLE_AUTOLOAD = "FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD"
ENV_IMPORT_TIMEOUT = "FOLEYZOO_PLUGIN_IMPORT_TIMEOUT"
DEFAULT_IMPORT_TIMEOUT = 120.0


GROUP_NAMES = (*INTERFACE_GROUPS, *LIGHTNING_GROUPS, RECIPES_GROUP)
"""The groups of :func:`known_groups`, known without importing Lightning."""


@functools.cache
def known_groups() -> dict[str, type | None]:
    """Every entry-point group foleyzoo reads → the base class its plugins must subclass (None: recipes).

    Built once, when the first plugin is imported (it imports Lightning); do not change the dict.
    """
    from lightning.pytorch import LightningDataModule, LightningModule

    groups: dict[str, type | None] = dict(INTERFACE_GROUPS)
    groups["foleyzoo.modules"] = LightningModule
    groups["foleyzoo.datamodules"] = LightningDataModule
    groups[RECIPES_GROUP] = None
    return groups


def normalize_distribution_name(name: str) -> str:
    """PEP 503 normalisation, so ``Foleyzoo_Example`` and ``foleyzoo-example`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _truthy(value: str | None) -> bool:
    return bool(value) and value.strip().lower() not in {"0", "false", "no", "off"}


def _describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PluginRegistry:
    """All plugins foleyzoo found, valid or not, with lookups by group and by short name."""

    def __init__(self) -> None:
        self._records: list[PluginRecord] = []
        self.loaded = False

    # ------------------------------------------------------------------ loading

    def load(
        self,
        distributions: Iterable[metadata.Distribution] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> PluginRegistry:
        """Discover and validate plugins; safe to call again (it starts over).

        ``distributions`` defaults to every installed distribution; tests pass fakes.
        ``environ`` defaults to ``os.environ`` (read for FOLEYZOO_PLUGINS and FOLEYZOO_DISABLE_PLUGIN_AUTOLOAD).
        """
        environ = os.environ if environ is None else environ
        wanted, disabled = _parse_plugins_variable(environ.get(ENV_PLUGINS, ""))
        autoload = not _truthy(environ.get(ENV_DISABLE_AUTOLOAD))
        limit = import_time_limit(environ)

        wanted_keys = {normalize_distribution_name(item) for item in wanted}
        records: list[PluginRecord] = []
        seen_distributions: set[str] = set()
        plugin_distributions: set[str] = set()
        dists = metadata.distributions() if distributions is None else distributions
        for dist in dists:
            name = dist.metadata["Name"] or ""
            key = normalize_distribution_name(name)
            if not key or key in seen_distributions:
                continue
            seen_distributions.add(key)
            entry_points = [ep for ep in dist.entry_points if ep.group.startswith(GROUP_PREFIX)]
            if not entry_points:
                continue
            plugin_distributions.add(key)
            if not (autoload or key == BUILTIN_DISTRIBUTION or key in wanted_keys):
                continue
            for ep in entry_points:
                record = PluginRecord(
                    group=ep.group, name=ep.name, value=ep.value, package=name, version=dist.version or ""
                )
                if key in disabled or ep.name in disabled:
                    record.status, record.error = (
                        PluginStatus.DISABLED,
                        f"no:{ep.name if ep.name in disabled else name}",
                    )
                else:
                    record.loader = _entry_point_loader(ep, limit)
                records.append(record)

        modules = [item for item in wanted if normalize_distribution_name(item) not in plugin_distributions]
        for module_name in sorted(modules):
            records.extend(_load_module_plugins(module_name, known_groups(), disabled, limit))

        _mark_conflicts(records)
        self._records = records
        self.loaded = True
        return self

    # ------------------------------------------------------------------ lookups

    def records(self, group: str | None = None, resolve: bool = True) -> list[PluginRecord]:
        """Every record (ok or not), optionally of one group, sorted by group then name.

        With ``resolve`` (the default) each is imported and validated first, so its status is known;
        ``resolve=False`` lists what is registered without importing anything.
        """
        found = [r for r in self._records if group is None or r.group == group]
        if resolve:
            for record in found:
                record.resolve()
        return sorted(found, key=lambda r: (r.group, r.name, r.package))

    def groups(self) -> set[str]:
        """The entry-point groups foleyzoo reads, and any other ``foleyzoo.*`` group a package declares."""
        return set(GROUP_NAMES) | {r.group for r in self._records}

    def names(self, group: str | None = None) -> list[str]:
        """The registered names (of ``group``), from the installed metadata alone: nothing is imported."""
        return sorted(
            {
                r.name
                for r in self._records
                if (group is None or r.group == group) and r.status is not PluginStatus.DISABLED
            }
        )

    def resolve_mentioned(self, texts: Iterable[str]) -> None:
        """Import the plugins whose name appears as a word in ``texts`` (a command line, config files).

        jsonargparse resolves a short class name only among classes already imported, so the plugins a
        recipe names are imported before it is parsed, and no others.
        """
        joined = "\n".join(texts)
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", joined))
        for record in self._records:
            if record.name in words or record.target in joined:
                record.resolve()

    def classes(self, group: str) -> dict[str, Any]:
        """Name → loaded object of the usable plugins in ``group``."""
        return {r.name: r.obj for r in self._records if r.group == group and r.ok}

    def get(self, group: str, name: str) -> Any:
        """The plugin ``name`` of ``group``; raises :class:`PluginError` saying why when it is unusable."""
        matches = [r for r in self._records if r.group == group and r.name == name]
        usable = [r for r in matches if r.ok]
        if len(usable) == 1:
            return usable[0].obj
        if matches:
            raise PluginError(describe_unusable(matches))
        known = ", ".join(self.names(group)) or "none"
        raise PluginError(f"no plugin named {name!r} in group {group}; registered there: {known}")

    def find(self, name: str) -> list[PluginRecord]:
        """Records whose short name or dotted target equals ``name`` (as a recipe's class_path may say).

        A dotted ``name`` ending in a plugin's name (a re-exported path) imports that plugin to compare.
        """
        last = name.rsplit(".", 1)[-1]
        return [
            r
            for r in self._records
            if name in (r.name, r.target)
            or ("." in name and r.name == last and r.resolve().class_path == name)
        ]

    def close_matches(self, name: str, limit: int = 3) -> list[PluginRecord]:
        """Usable plugins whose class name looks like ``name``'s last part (a typo in a recipe's class_path).

        Matching ignores case and uses :func:`difflib.get_close_matches`, best first; a name found in
        several groups (a sampler and a module both called ``Foo``) gives one record per group.
        """
        wanted = name.rsplit(".", 1)[-1].lower()
        by_name: dict[str, list[PluginRecord]] = defaultdict(list)
        for record in self._records:
            if record.status is PluginStatus.OK and record.group != RECIPES_GROUP:
                by_name[record.name.lower()].append(record)
        best = difflib.get_close_matches(wanted, list(by_name), n=limit, cutoff=0.75)
        return [record for key in best for record in sorted(by_name[key], key=lambda r: r.group)]

    def allowed_class_paths(self) -> set[str]:
        """Dotted paths of every registered plugin class (the checkpoint allowlist starts from these);
        from the metadata, plus the real path of those already imported."""
        usable = [r for r in self._usable_by_metadata()]
        return {r.target for r in usable} | {r.class_path for r in usable if inspect.isclass(r.obj)}

    def plugin_packages(self) -> set[str]:
        """Top-level import packages that ship registered plugins; their classes may appear under shorter paths."""
        return {r.target.split(".", 1)[0] for r in self._usable_by_metadata()}

    def _usable_by_metadata(self) -> list[PluginRecord]:
        """Records of plugin classes that are not disabled, in conflict, or known broken or invalid."""
        return [r for r in self._records if r.group != RECIPES_GROUP and r.status is PluginStatus.OK]


def describe_unusable(matches: list[PluginRecord]) -> str:
    """One message for a name whose records are broken, invalid, disabled or in conflict."""
    conflicts = [r for r in matches if r.status is PluginStatus.CONFLICT]
    if conflicts:
        return conflicts[0].error
    return " ".join(r.problem() for r in matches)


def _parse_plugins_variable(value: str) -> tuple[set[str], set[str]]:
    """FOLEYZOO_PLUGINS → (wanted distributions or modules, as written; disabled distributions or plugin names)."""
    wanted: set[str] = set()
    disabled: set[str] = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        if item.startswith("no:"):
            target = item[3:].strip()
            disabled.update({target, normalize_distribution_name(target)})
        else:
            wanted.add(item)
    return wanted, disabled


def _entry_point_loader(ep: metadata.EntryPoint, limit: float) -> Callable[[PluginRecord], None]:
    """What imports ``ep`` into its record when the plugin is first needed."""
    return lambda record: _load_entry_point(record, ep, known_groups(), limit)


def _load_entry_point(
    record: PluginRecord, ep: metadata.EntryPoint, groups: dict[str, type | None], limit: float
) -> None:
    """Import one entry point into ``record`` and validate it; never raises for the plugin's faults."""
    if record.group not in groups:
        record.status = PluginStatus.INVALID
        record.error = (
            f"unknown entry-point group {record.group!r}; foleyzoo reads {', '.join(sorted(groups))}"
        )
        return
    try:
        record.obj = load_with_time_limit(ep.load, limit, f"plugin {record.name!r} ({ep.value})")
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a plugin's fault must not break foleyzoo
        record.status, record.error = PluginStatus.BROKEN, _describe_exception(exc)
        return
    problem = validate_plugin(record.group, record.name, record.obj, groups)
    if problem:
        record.status, record.error = PluginStatus.INVALID, problem


class PluginImportTimeout(Exception):
    """A plugin's module did not finish importing within the time limit."""


def import_time_limit(environ: Mapping[str, str] | None = None) -> float:
    """Seconds a plugin's import may take: ``FOLEYZOO_PLUGIN_IMPORT_TIMEOUT`` (0 for no limit), else 120."""
    text = (os.environ if environ is None else environ).get(ENV_IMPORT_TIMEOUT, "").strip()
    try:
        return max(0.0, float(text)) if text else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        warnings.warn(f"{ENV_IMPORT_TIMEOUT}={text!r} is not a number of seconds; using 120", stacklevel=2)
        return DEFAULT_IMPORT_TIMEOUT


def load_with_time_limit(load: Callable[[], Any], seconds: float, what: str) -> Any:
    """``load()``, interrupted with :class:`PluginImportTimeout` after ``seconds`` (a plugin that hangs
    on import must not hang every command). Uses the POSIX interval timer, so the limit applies in the
    main thread of POSIX systems; elsewhere, or with ``seconds`` 0, there is no limit."""
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return load()

    def interrupt(signum: int, frame: Any) -> None:
        raise PluginImportTimeout(
            f"{what} did not finish importing within {seconds:g} s; it was skipped (the limit is set "
            f"by {ENV_IMPORT_TIMEOUT})"
        )

    previous_handler = signal.signal(signal.SIGALRM, interrupt)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        return load()
    except PluginImportTimeout as exc:
        warnings.warn(str(exc), stacklevel=2)
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # someone else's timer was running: give it back what is left
            left = max(previous_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def validate_plugin(group: str, name: str, obj: Any, groups: dict[str, type | None] | None = None) -> str:
    """Why ``obj`` cannot serve as plugin ``name`` in ``group``, or ``""`` when it can."""
    groups = known_groups() if groups is None else groups
    if group == RECIPES_GROUP:
        return _validate_recipe_source(obj)
    base = groups[group]
    assert base is not None
    if not inspect.isclass(obj):
        return f"it is a {type(obj).__name__}, not a class"
    if not issubclass(obj, base):
        return f"{obj.__module__}.{obj.__qualname__} does not subclass {base.__module__}.{base.__qualname__}"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        return f"{obj.__qualname__} is abstract: it does not implement {missing}"
    if obj.__name__ != name:
        return f"the entry-point name {name!r} must equal the class name {obj.__name__!r}"
    wanted_api = getattr(obj, "api_version", API_VERSION)
    try:
        compatible = api_version_compatible(str(wanted_api))
    except ValueError:
        return f"api_version {wanted_api!r} is not of the form MAJOR.MINOR"
    if not compatible:
        return f"it was written for foleyzoo API {wanted_api}, but this foleyzoo provides API {API_VERSION}"
    return ""


def recipe_dir_of(obj: Any) -> Path:
    """The folder a ``foleyzoo.recipes`` entry point stands for (a package, or a callable returning a path)."""
    if inspect.ismodule(obj):
        return Path(next(iter(obj.__path__))) if hasattr(obj, "__path__") else Path(obj.__file__).parent
    if callable(obj):
        return Path(obj())
    return Path(obj)


def _validate_recipe_source(obj: Any) -> str:
    try:
        folder = recipe_dir_of(obj)
    except Exception as exc:
        return f"its recipe folder could not be determined: {_describe_exception(exc)}"
    return "" if folder.is_dir() else f"its recipe folder {folder} does not exist"


def _load_module_plugins(
    module_name: str, groups: dict[str, type | None], disabled: set[str], limit: float
) -> list[PluginRecord]:
    """FOLEYZOO_PLUGINS names a module: import it and register the interface classes it defines."""
    try:
        module = load_with_time_limit(
            lambda: importlib.import_module(module_name), limit, f"module {module_name!r}"
        )
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        return [
            PluginRecord(
                group="(module)",
                name=module_name,
                value=module_name,
                package=ENV_PLUGINS,
                version="",
                status=PluginStatus.BROKEN,
                error=_describe_exception(exc),
            )
        ]
    records = []
    for attr, obj in vars(module).items():
        if not inspect.isclass(obj) or obj.__module__ != module.__name__ or inspect.isabstract(obj):
            continue
        for group, base in groups.items():
            if base is not None and issubclass(obj, base):
                record = PluginRecord(group, attr, f"{module_name}:{attr}", ENV_PLUGINS, "", obj=obj)
                if attr in disabled:
                    record.status, record.error = PluginStatus.DISABLED, f"no:{attr}"
                else:
                    problem = validate_plugin(group, attr, obj, groups)
                    if problem:
                        record.status, record.error = PluginStatus.INVALID, problem
                records.append(record)
    return records


def _mark_conflicts(records: list[PluginRecord]) -> None:
    """The same name in the same group from two packages, pointing at two targets, is an error naming both.

    Decided from the metadata (the entry points' targets), so no plugin is imported to find it.
    """
    by_key: dict[tuple[str, str], list[PluginRecord]] = defaultdict(list)
    for record in records:
        if record.status is PluginStatus.OK:
            by_key[(record.group, record.name)].append(record)
    for (group, name), same in by_key.items():
        if len(same) < 2 or len({r.target for r in same}) < 2:
            continue
        listing = "; ".join(f"{r.source} ({r.value})" for r in same)
        message = (
            f"plugin name {name!r} in group {group} is registered by more than one package: {listing}. "
            "Uninstall one of them, or name the class by its full path in YAML "
            f"(for example class_path: {same[0].target})."
        )
        for record in same:
            record.status, record.error, record.loader = PluginStatus.CONFLICT, message, None


_REGISTRY = PluginRegistry()


def get_registry() -> PluginRegistry:
    """The process-wide registry, loaded on first use."""
    if not _REGISTRY.loaded:
        _REGISTRY.load()
    return _REGISTRY


def load_plugins(force: bool = False) -> PluginRegistry:
    """Load (or with ``force``, reload) every plugin before a parser is built; returns the registry."""
    if force or not _REGISTRY.loaded:
        _REGISTRY.load()
    return _REGISTRY
