"""A frozen visual encoder taken from a ``foleyzoo fit`` checkpoint of an earlier stage (see :mod:`foleyzoo.io.from_checkpoint`)."""

from __future__ import annotations

from foleyzoo.api import VisualEncoder
from foleyzoo.io.from_checkpoint import ComponentFromCheckpoint, Forwarded

__all__ = ["VisualEncoderFromCheckpoint"]


class VisualEncoderFromCheckpoint(ComponentFromCheckpoint, VisualEncoder):
    """The :class:`~foleyzoo.api.VisualEncoder` trained by a checkpoint (e.g. AVContrastive's ``last.ckpt``), frozen."""

    interface = VisualEncoder

    def __init__(
        self, checkpoint: str, attribute: str | None = None, architecture: str | None = None
    ) -> None:
        super().__init__(checkpoint, attribute, architecture)

    fps = Forwarded()
    embed_dim = Forwarded()
    encode = Forwarded()
