"""What foleyzoo knows about one plugin: where it came from, whether it loaded, and why not."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class PluginStatus(str, enum.Enum):
    """Outcome of loading and validating one entry point."""

    OK = "ok"
    BROKEN = "broken"  # importing it raised
    INVALID = "invalid"  # it imported but breaks a rule (wrong base class, abstract, name, API version)
    CONFLICT = "conflict"  # another package registers the same name in the same group
    DISABLED = "disabled"  # switched off through FOLEYZOO_PLUGINS=no:NAME


@dataclass
class PluginRecord:
    """One registered plugin (an entry point, or a class found in a FOLEYZOO_PLUGINS module)."""

    group: str
    name: str
    value: str  # "module:attr" as written in the entry point
    package: str
    version: str
    status: PluginStatus = PluginStatus.OK
    error: str = ""
    obj: Any = None
    loader: Callable[[PluginRecord], None] | None = field(default=None, repr=False, compare=False)
    """Imports and validates the entry point on first need (None once done): listing costs no import."""

    def resolve(self) -> PluginRecord:
        """Import and validate the plugin, once; its status and ``obj`` are then known."""
        if self.loader is not None:
            loader, self.loader = self.loader, None
            loader(self)
        return self

    @property
    def loaded(self) -> bool:
        """Whether the plugin's module has been imported (or its import tried)."""
        return self.loader is None

    @property
    def ok(self) -> bool:
        """Usable: imported and valid (asking imports it)."""
        return self.resolve().status is PluginStatus.OK

    @property
    def target(self) -> str:
        """The entry point's target as a dotted path (``pkg.module.Class``), known without importing."""
        return self.value.replace(":", ".")

    @property
    def class_path(self) -> str:
        """Dotted import path of the loaded class, or the entry point's target when it did not load."""
        if inspect.isclass(self.obj):
            return f"{self.obj.__module__}.{self.obj.__qualname__}"
        return self.value.replace(":", ".")

    @property
    def source(self) -> str:
        """``package version`` for messages."""
        return f"{self.package} {self.version}".strip()

    def problem(self) -> str:
        """A sentence for a user who named this plugin, saying what is wrong and what to do."""
        where = f"plugin {self.name!r} (group {self.group}, package {self.source}, entry point {self.value})"
        if self.status is PluginStatus.BROKEN:
            return (
                f"{where} failed to import: {self.error}. Fix or reinstall package {self.package!r}, "
                "or choose another class (`foleyzoo plugins` lists them)."
            )
        if self.status is PluginStatus.DISABLED:
            return f"{where} is disabled by FOLEYZOO_PLUGINS ({self.error})."
        return f"{where} cannot be used: {self.error}"
