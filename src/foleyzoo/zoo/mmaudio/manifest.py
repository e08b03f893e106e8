"""The manifests of MMAudio's released files: name, published size and hashes, every key and shape.

``manifest.json`` (package data) lists the denoisers, ``codec_manifest.json`` the codecs (mel-VAEs) and
vocoders (BigVGAN), ``sync_manifest.json`` the keys of Synchformer's visual extractor in
``synchformer_state_dict.pth``. Each is checked before anything is built: a file whose keys or shapes differ from its
variant's is refused with the first mismatching key, and with the variant it does match, if any.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from foleyzoo.errors import ConfigError
from foleyzoo.zoo.mmaudio.convert import DROPPED_KEYS

__all__ = [
    "CODEC_MANIFEST_PATH",
    "MANIFEST_PATH",
    "SYNC_MANIFEST_PATH",
    "ReleasedFile",
    "codec_manifest",
    "keys_mismatch",
    "manifest",
    "matching_parts",
    "matching_variants",
    "released_file",
    "released_part",
    "released_sync_file",
    "sync_manifest",
]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
CODEC_MANIFEST_PATH = Path(__file__).with_name("codec_manifest.json")
SYNC_MANIFEST_PATH = Path(__file__).with_name("sync_manifest.json")
PART_SECTIONS = {"codec": "codecs", "vocoder": "vocoders"}
"""Part kind → its section of ``codec_manifest.json``."""


@dataclass(frozen=True)
class ReleasedFile:
    """One released weights file: its variant, name, where it is published, size and hashes, keys and shapes.

    ``size``/``sha256``/``md5`` are None where nothing was published; ``keys`` maps every key the file
    must hold to its shape (keys MMAudio's loader drops are tolerated besides them). ``other_sha256``
    holds the hashes of earlier published revisions of the same file (same keys), accepted as well.
    """

    variant: str
    file: str
    url: str
    size: int | None
    sha256: str | None
    md5: str | None
    keys: dict[str, tuple[int, ...]]
    other_sha256: tuple[str, ...] = ()


@cache
def manifest() -> dict[str, Any]:
    """The parsed manifest (read once)."""
    return json.loads(MANIFEST_PATH.read_text())


def released_file(variant: str) -> ReleasedFile:
    """The manifest entry of ``variant``'s released file."""
    files = manifest()["files"]
    if variant not in files:
        raise ConfigError(f"the MMAudio manifest has no variant {variant!r}; known: {', '.join(files)}")
    entry = files[variant]
    return ReleasedFile(
        variant=variant,
        file=entry["file"],
        url=entry["url"],
        size=entry.get("size"),
        sha256=entry.get("sha256"),
        md5=entry.get("md5"),
        keys={key: tuple(shape) for key, shape in entry["keys"].items()},
    )


@cache
def codec_manifest() -> dict[str, Any]:
    """The parsed codec and vocoder manifest (read once)."""
    return json.loads(CODEC_MANIFEST_PATH.read_text())


def released_part(kind: str, variant: str) -> ReleasedFile:
    """The manifest entry of the released ``kind`` (``"codec"`` or ``"vocoder"``) file of ``variant``.

    Its ``variant`` reads ``"codec 16k"``, ``"vocoder 44k"``…, as messages name it.
    """
    files = codec_manifest()[PART_SECTIONS[kind]]
    if variant not in files:
        raise ConfigError(f"unknown MMAudio {kind} variant {variant!r}; known: {', '.join(files)}")
    entry = files[variant]
    return ReleasedFile(
        variant=f"{kind} {variant}",
        file=entry["file"],
        url=entry["url"],
        size=entry.get("size"),
        sha256=entry.get("sha256"),
        md5=entry.get("md5"),
        keys={key: tuple(shape) for key, shape in entry["keys"].items()},
        other_sha256=tuple(entry.get("other_sha256", {})),
    )


@cache
def sync_manifest() -> dict[str, Any]:
    """The parsed manifest of Synchformer's released file (read once)."""
    return json.loads(SYNC_MANIFEST_PATH.read_text())


def released_sync_file() -> ReleasedFile:
    """``synchformer_state_dict.pth``: its published facts and the keys of its visual extractor
    (``vfeat_extractor.*``, the part :class:`~foleyzoo.encoders.sync.synchformer.Synchformer` loads)."""
    entry = sync_manifest()["files"]["synchformer"]
    return ReleasedFile(
        variant="synchformer",
        file=entry["file"],
        url=entry["url"],
        size=entry.get("size"),
        sha256=entry.get("sha256"),
        md5=entry.get("md5"),
        keys={key: tuple(shape) for key, shape in entry["keys"].items()},
    )


def matching_parts(kind: str, shapes: Mapping[str, Sequence[int]]) -> list[str]:
    """The ``kind`` variants whose released file has exactly these keys and shapes."""
    return [
        name
        for name in codec_manifest()[PART_SECTIONS[kind]]
        if keys_mismatch(shapes, released_part(kind, name), dropped=()) is None
    ]


def keys_mismatch(
    shapes: Mapping[str, Sequence[int]], expected: ReleasedFile, dropped: Sequence[str] = DROPPED_KEYS
) -> str | None:
    """None when ``shapes`` (key → shape) holds exactly the expected keys and shapes, else what differs.

    The description starts with the first mismatching key in sorted order and counts the rest.
    Keys in ``dropped`` (by default those MMAudio's own loader drops, derived buffers) are ignored
    whatever their shape.
    """
    found = {key: tuple(shape) for key, shape in shapes.items() if key not in dropped}
    missing = sorted(set(expected.keys) - set(found))
    unknown = sorted(set(found) - set(expected.keys))
    reshaped = sorted(key for key in set(found) & set(expected.keys) if found[key] != expected.keys[key])
    if not (missing or unknown or reshaped):
        return None
    first = min(missing + unknown + reshaped)
    if first in missing:
        what = f"key {first!r} is missing"
    elif first in unknown:
        what = f"key {first!r} is unknown"
    else:
        what = f"key {first!r} has shape {list(found[first])}, expected {list(expected.keys[first])}"
    counts = ", ".join(
        f"{len(items)} {label}"
        for label, items in (("missing", missing), ("unknown", unknown), ("with another shape", reshaped))
        if items
    )
    return f"first mismatch: {what} ({counts})"


def matching_variants(shapes: Mapping[str, Sequence[int]]) -> list[str]:
    """The variants whose released file has exactly these keys and shapes."""
    return [name for name in manifest()["files"] if keys_mismatch(shapes, released_file(name)) is None]
