"""Text encoders (TextEncoder plugins)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from foleyzoo.encoders.text.byte import ByteTextEncoder

if TYPE_CHECKING:
    from foleyzoo.encoders.text.hf_text import CLIPTextEncoder, T5TextEncoder
    from foleyzoo.encoders.text.minilm import MiniLMTextEncoder
    from foleyzoo.encoders.text.open_clip import OpenCLIPTextEncoder

# The pretrained encoders import transformers (seconds), so they are imported on first use:
# loading ByteTextEncoder, which imports this package, does not pay for them.
_LAZY = {
    "T5TextEncoder": "foleyzoo.encoders.text.hf_text",
    "CLIPTextEncoder": "foleyzoo.encoders.text.hf_text",
    "MiniLMTextEncoder": "foleyzoo.encoders.text.minilm",
    "OpenCLIPTextEncoder": "foleyzoo.encoders.text.open_clip",
}

__all__ = [
    "ByteTextEncoder",
    "CLIPTextEncoder",
    "MiniLMTextEncoder",
    "OpenCLIPTextEncoder",
    "T5TextEncoder",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
