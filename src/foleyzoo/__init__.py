"""foleyzoo: a PyTorch Lightning model zoo for video-to-audio (Foley) generation with swappable parts."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("foleyzoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
