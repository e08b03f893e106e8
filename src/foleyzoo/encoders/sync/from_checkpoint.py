"""A frozen sync encoder taken from a ``foleyzoo fit`` checkpoint of an earlier stage (see :mod:`foleyzoo.io.from_checkpoint`)."""

from __future__ import annotations

from foleyzoo.api import SyncEncoder
from foleyzoo.io.from_checkpoint import ComponentFromCheckpoint, Forwarded

__all__ = ["SyncEncoderFromCheckpoint"]


class SyncEncoderFromCheckpoint(ComponentFromCheckpoint, SyncEncoder):
    """The :class:`~foleyzoo.api.SyncEncoder` trained by a checkpoint (e.g. SyncPretraining's ``last.ckpt``), frozen."""

    interface = SyncEncoder

    def __init__(
        self, checkpoint: str, attribute: str | None = None, architecture: str | None = None
    ) -> None:
        super().__init__(checkpoint, attribute, architecture)

    fps = Forwarded()
    feature_rate = Forwarded()
    embed_dim = Forwarded()
    encode = Forwarded()
