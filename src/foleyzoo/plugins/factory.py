"""The Python way in: ``foleyzoo.create(group, name, **kwargs)`` and ``foleyzoo.list_plugins(group)``.

As timm's ``create_model`` and ``list_models`` are, and torchvision's ``get_model``: a plugin is found by
its registered name, whether foleyzoo or a third-party package ships it. Listing reads the installed
metadata only; creating imports just the plugin asked for.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from foleyzoo.errors import PluginError
from foleyzoo.plugins.registry import GROUP_PREFIX, get_registry

__all__ = ["create", "list_plugins", "plugin_group"]


def plugin_group(group: str) -> str:
    """The entry-point group for ``group`` as a user writes it: ``samplers`` or ``foleyzoo.samplers``."""
    full = group if group.startswith(GROUP_PREFIX) else f"{GROUP_PREFIX}{group}"
    known = get_registry().groups()
    if full not in known:
        short = ", ".join(sorted(name.removeprefix(GROUP_PREFIX) for name in known))
        raise PluginError(f"no plugin group {group!r}; the groups are {short}")
    return full


def list_plugins(group: str | None = None, pattern: str = "*") -> list[str]:
    """Registered plugin names (of ``group``) matching the shell-style ``pattern``, sorted; nothing is imported.

    >>> list_plugins("samplers")           # doctest: +SKIP
    ['DPMSolverSampler', 'EulerSampler', 'HeunSampler', 'MidpointSampler', 'RK4Sampler']
    """
    names = get_registry().names(None if group is None else plugin_group(group))
    return [name for name in names if fnmatch.fnmatchcase(name, pattern)]


def create(group: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build the plugin ``name`` of ``group`` with ``args`` and ``kwargs`` (``create("samplers", "HeunSampler", steps=16)``).

    A name that is not registered, or a plugin that failed to import, is a :class:`PluginError` saying
    which plugins there are or what went wrong.
    """
    return get_registry().get(plugin_group(group), name)(*args, **kwargs)
