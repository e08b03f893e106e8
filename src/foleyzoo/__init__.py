"""foleyzoo: a PyTorch Lightning model zoo for video-to-audio (Foley) generation with swappable parts.

The Python way in, as timm's ``create_model`` and torchvision's ``get_model`` are::

    import foleyzoo

    foleyzoo.list_plugins("samplers")                 # ['DPMSolverSampler', 'EulerSampler', ...]
    sampler = foleyzoo.create("samplers", "HeunSampler", steps=16)
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("foleyzoo")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


class _FormerPaths:
    """Finds the module names of earlier foleyzoo versions (:mod:`foleyzoo.compat`): last on
    ``sys.meta_path``, so it is asked only about names no other finder knows."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("foleyzoo."):
            return None
        from foleyzoo import compat

        return compat.find_spec(fullname)


if not any(type(finder).__name__ == "_FormerPaths" for finder in sys.meta_path):
    sys.meta_path.append(_FormerPaths())

if TYPE_CHECKING:
    from foleyzoo.plugins.factory import create, list_plugins

__all__ = ["__version__", "create", "list_plugins"]


def __getattr__(name: str) -> Any:
    """``create`` and ``list_plugins`` are imported on first use, so ``import foleyzoo`` stays cheap."""
    if name in ("create", "list_plugins"):
        from foleyzoo.plugins import factory

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
