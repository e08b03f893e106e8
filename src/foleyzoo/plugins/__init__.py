"""Plugin discovery, validation and the class allowlist (see docs/tutorials/write-a-plugin.md)."""

from __future__ import annotations

from foleyzoo.plugins.allowlist import check_config_allowed, instantiate_from_config
from foleyzoo.plugins.records import PluginRecord, PluginStatus
from foleyzoo.plugins.registry import (
    PluginRegistry,
    get_registry,
    known_groups,
    load_plugins,
    recipe_dir_of,
    validate_plugin,
)

__all__ = [
    "PluginRecord",
    "PluginRegistry",
    "PluginStatus",
    "check_config_allowed",
    "get_registry",
    "instantiate_from_config",
    "known_groups",
    "load_plugins",
    "recipe_dir_of",
    "validate_plugin",
]
