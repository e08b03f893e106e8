"""A frozen codec taken from a ``foleyzoo fit`` checkpoint of an earlier stage (see :mod:`foleyzoo.io.from_checkpoint`)."""

from __future__ import annotations

from foleyzoo.api import AudioCodec
from foleyzoo.io.from_checkpoint import ComponentFromCheckpoint, Forwarded

__all__ = ["CodecFromCheckpoint"]


class CodecFromCheckpoint(ComponentFromCheckpoint, AudioCodec):
    """The :class:`~foleyzoo.api.AudioCodec` of a codec training checkpoint (e.g. a MelVAE's ``last.ckpt``), frozen."""

    interface = AudioCodec

    def __init__(
        self, checkpoint: str, attribute: str | None = None, architecture: str | None = None
    ) -> None:
        super().__init__(checkpoint, attribute, architecture)

    sample_rate = Forwarded()
    latent_dim = Forwarded()
    latent_rate = Forwarded()
    latent_frames_for = Forwarded()
    encode = Forwarded()
    decode = Forwarded()
