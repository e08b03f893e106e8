"""Text encoders (TextEncoder plugins)."""

from __future__ import annotations

from foleyzoo.encoders.text.byte import ByteTextEncoder

__all__ = ["ByteTextEncoder"]
