"""SynthFoley v1: a procedurally generated video-to-audio benchmark with exact ground truth.

``generator`` draws and renders clips, ``dataset`` serves them to PyTorch, ``scorer`` measures
generated audio against the ground truth and ``cli`` is ``foleyzoo synth make|score``.
The contract is ``shared/specs/synthfoley-v1.md``.
"""

from __future__ import annotations
