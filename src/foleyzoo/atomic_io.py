"""Checkpoints written so that a kill at any moment leaves the previous file whole.

Lightning's own ``TorchCheckpointIO`` writes through an fsspec transaction whose temporary file lies in
the system temp folder; when that folder is on another file system (a tmpfs, a container's overlay, a
cluster's local disk beside a shared run folder) the final move is a copy, and a kill during the copy
leaves a truncated ``last.ckpt``. :class:`AtomicCheckpointIO` writes beside the target instead, syncs
it to disk and renames it over the target, which POSIX makes atomic.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH

__all__ = ["AtomicCheckpointIO", "atomic_write_bytes", "temporary_name"]

CHUNK_BYTES = 8 << 20
Writer = Callable[[io.BufferedWriter, bytes], None]
TEMP_MARK = ".tmp-"


def temporary_name(target: Path) -> Path:
    """A hidden name beside ``target`` for one writer: ``.<name>.tmp-<pid>-<random>``."""
    return target.with_name(f".{target.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete the temporary files that killed writers of ``target`` left behind; the removed paths."""
    removed = []
    for candidate in target.parent.glob(f".{target.name}{TEMP_MARK}*"):
        pid_text = candidate.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_bytes(target: str | Path, payload: bytes, write: Writer | None = None) -> None:
    """Write ``payload`` to ``target`` so that readers see the old file or the whole new one, never a part.

    ``write(handle, payload)`` does the writing (the default writes in 8 MiB chunks); tests pass one that
    stops half way to show what a kill leaves behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    temporary = temporary_name(target)
    try:
        with open(temporary, "wb") as handle:
            (write or write_in_chunks)(handle, payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def write_in_chunks(handle: io.BufferedWriter, payload: bytes) -> None:
    """Write ``payload`` in pieces of :data:`CHUNK_BYTES`."""
    view = memoryview(payload)
    for start in range(0, len(view), CHUNK_BYTES):
        handle.write(view[start : start + CHUNK_BYTES])


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

    def write(self, handle: io.BufferedWriter, payload: bytes) -> None:
        """Write the serialised checkpoint into the open temporary file."""
        write_in_chunks(handle, payload)


def _is_local(path: _PATH) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(get_filesystem(path), LocalFileSystem)
