"""Visual semantic encoders (VisualEncoder plugins): what is on screen, frame by frame."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from foleyzoo.encoders.visual.pan_grid import PanVisualEncoder, PixelGrid
from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN

if TYPE_CHECKING:
    from foleyzoo.encoders.visual.hf_vision import HFVisionEncoder
    from foleyzoo.encoders.visual.open_clip import OpenCLIPVisualEncoder
    from foleyzoo.encoders.visual.timm_encoder import TimmVisualEncoder

# The pretrained encoders import transformers or timm (seconds), so they are imported on first use:
# loading TinyVisualCNN, which imports this package, does not pay for them.
_LAZY = {
    "HFVisionEncoder": "foleyzoo.encoders.visual.hf_vision",
    "OpenCLIPVisualEncoder": "foleyzoo.encoders.visual.open_clip",
    "TimmVisualEncoder": "foleyzoo.encoders.visual.timm_encoder",
}

__all__ = [
    "HFVisionEncoder",
    "OpenCLIPVisualEncoder",
    "PanVisualEncoder",
    "PixelGrid",
    "TimmVisualEncoder",
    "TinyVisualCNN",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
