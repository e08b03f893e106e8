"""Build objects from stored configs safely: only foleyzoo's and registered plugins' classes are allowed.

A ``class_path`` inside a downloaded checkpoint or bundle is code: importing an arbitrary dotted path
can run anything. Every class path in such a config is checked *before* anything is imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from foleyzoo.errors import ForbiddenClassError
from foleyzoo.plugins.registry import PluginRegistry, get_registry

ALWAYS_ALLOWED_PREFIXES: tuple[str, ...] = ("foleyzoo.", "torch.optim.")
"""foleyzoo itself, and torch's optimizers and schedulers (modules own their optimizer callables)."""

LIGHTNING_INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
"""The one ``_instantiator`` LightningCLI writes into hyper-parameters; foleyzoo never imports it."""

_CLASS_KEYS = ("class_path", "_class_path")


def is_allowed_class_path(
    class_path: str, registry: PluginRegistry | None = None, extra_prefixes: Iterable[str] = ()
) -> bool:
    """True for a registered plugin (short name or dotted path) or a path under an allowed prefix."""
    registry = get_registry() if registry is None else registry
    if "." not in class_path:
        return any(record.ok and record.name == class_path for record in registry.records())
    if class_path in registry.allowed_class_paths():
        return True
    if class_path.split(".", 1)[0] in registry.plugin_packages():
        return (
            True  # a registered plugin package's class under a re-exported path (jsonargparse shortens them)
        )
    return any(class_path.startswith(prefix) for prefix in (*ALWAYS_ALLOWED_PREFIXES, *extra_prefixes))


def iter_class_paths(config: Any, where: str = "") -> Iterable[tuple[str, str]]:
    """Every (key path, class path) in a nested config of dicts and lists."""
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
) -> None:
    """Raise :class:`ForbiddenClassError` naming the key if any class path in ``config`` is not allowed."""
    registry = get_registry() if registry is None else registry
    for key, class_path in iter_class_paths(config):
        if not is_allowed_class_path(class_path, registry, extra_prefixes):
            raise ForbiddenClassError(
                f"{source}: refusing to build {class_path!r} (at {key}): only foleyzoo's classes and "
                "registered plugins may be built from a stored config. If you trust this class, install "
                "it as a foleyzoo plugin (see `foleyzoo plugins`)."
            )
    instantiator = config.get("_instantiator") if isinstance(config, dict) else None
    if instantiator is not None and instantiator != LIGHTNING_INSTANTIATOR:
        raise ForbiddenClassError(f"{source}: refusing unknown _instantiator {instantiator!r}")


def instantiate_from_config(
    config: dict[str, Any],
    base: type,
    source: str = "config",
    registry: PluginRegistry | None = None,
) -> Any:
    """Build ``{"class_path": ..., "init_args": {...}}`` as a subclass of ``base`` after the allowlist check.

    jsonargparse does the building, exactly as the CLI does, so nested class configs and optimizer
    callables come out the same as in ``foleyzoo fit``.
    """
    from jsonargparse import ArgumentParser

    check_config_allowed(config, source, registry)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(base, "obj", required=True)
    namespace = parser.parse_object({"obj": config})
    return parser.instantiate_classes(namespace).obj
