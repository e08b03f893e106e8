"""What foleyzoo knows about one plugin: where it came from, whether it loaded, and why not."""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
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

    @property
    def ok(self) -> bool:
        return self.status is PluginStatus.OK

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
