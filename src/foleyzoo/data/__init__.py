"""Data for foleyzoo: media I/O (``foleyzoo.io.media``) and the SynthFoley benchmark (``.synthfoley``).

Submodules are imported on demand, so importing this package stays cheap (worker processes that only
generate SynthFoley clips do not pay for what they do not use).
"""

from __future__ import annotations
