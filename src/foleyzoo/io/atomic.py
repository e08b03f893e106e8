"""Files written so that a kill at any moment leaves the previous file whole, or none: never a part.

Every writer of foleyzoo (checkpoints, WAVs, videos, latents, bundles) writes to a hidden temporary
file beside its target, syncs it to disk and renames it over the target, which POSIX makes atomic. A
reader, or a rerun that skips finished outputs, therefore never takes a cut file for a finished one.
The rename replaces a symbolic link at the target instead of writing through it.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_bytes", "temporary_name"]

CHUNK_BYTES = 8 << 20
Writer = Callable[[io.BufferedWriter, bytes], None]
TEMP_MARK = ".tmp-"


def temporary_name(target: Path) -> Path:
    """A hidden name beside ``target`` for one writer: ``.<name>.tmp-<pid>-<random><suffix>``.

    The suffix is kept so that writers choosing a format by extension (FFmpeg's muxers) choose the same.
    """
    unique = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return target.with_name(f".{target.name}{TEMP_MARK}{unique}{target.suffix}")


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
    with atomic_output(target) as temporary, open(temporary, "wb") as handle:
        (write or write_in_chunks)(handle, payload)


def write_in_chunks(handle: io.BufferedWriter, payload: bytes) -> None:
    """Write ``payload`` in pieces of :data:`CHUNK_BYTES`."""
    view = memoryview(payload)
    for start in range(0, len(view), CHUNK_BYTES):
        handle.write(view[start : start + CHUNK_BYTES])


@contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """A temporary path beside ``target`` (whose folder must exist) to write into; renamed over
    ``target`` when the block succeeds.

    On an error (or a kill) the target keeps its old content, or stays absent; the temporary is removed
    (a killed writer's is removed by the next write of the same target).
    """
    target = Path(target)
    remove_stale_temporaries(target)
    temporary = temporary_name(target)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)
