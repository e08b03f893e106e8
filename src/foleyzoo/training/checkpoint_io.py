"""Lightning's checkpoint writer and reader, made atomic on save and safe on load.

Lightning's own ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file lies in
the system temp folder; when that folder is on another file system (a tmpfs, a container's overlay, a
cluster's local disk beside a shared run folder) the final move is a copy, and a kill during the copy
leaves a truncated ``last.ckpt``. :class:`AtomicCheckpointIO` writes beside the target instead (see
:mod:`foleyzoo.io.atomic`), and reads local files only, with ``weights_only=True`` unless told otherwise.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH

from foleyzoo.io.atomic import atomic_write_bytes, write_in_chunks

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are atomic and durable (temporary file beside the target,
    fsync, rename); remote paths (``s3://`` and the like) keep Lightning's own transaction.

    ``foleyzoo fit`` uses it unless a recipe names another checkpoint plugin.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(path, buffer.getvalue(), self.write)

    def load_checkpoint(
        self,
        path: _PATH,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Read a local checkpoint with ``weights_only=True`` unless told otherwise; never a remote one."""
        if not _is_local(path):
            raise ValueError(
                f"{path}: foleyzoo does not load checkpoints from remote locations; download the file first"
            )
        return super().load_checkpoint(path, map_location, True if weights_only is None else weights_only)

    def write(self, handle: io.BufferedWriter, payload: bytes) -> None:
        """Write the serialised checkpoint into the open temporary file."""
        write_in_chunks(handle, payload)


def _is_local(path: _PATH) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(get_filesystem(path), LocalFileSystem)
