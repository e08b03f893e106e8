"""The exception types foleyzoo raises for problems a user can fix (bad input, bad config, bad plugin)."""

from __future__ import annotations


class FoleyzooError(Exception):
    """Base of every error foleyzoo raises on purpose; the CLI prints these without a traceback."""


class PluginError(FoleyzooError):
    """A plugin is missing, broken, ambiguous or invalid; the message names it and its package."""


class ConfigError(FoleyzooError):
    """A recipe or stored config cannot be used; the message names the file or key."""


class ForbiddenClassError(ConfigError):
    """A config asked to build a class that is neither foleyzoo's nor a registered plugin's."""


class MediaError(FoleyzooError):
    """A media file cannot be read or written; the message names the file and the problem."""


class GenerationError(FoleyzooError):
    """Generation produced something that must not be written (non-finite audio); the message names the input."""
