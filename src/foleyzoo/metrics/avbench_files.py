"""av-benchmark's file rules: which files of a folder count, in which order, and how generated and reference pair.

* A folder's audio is its ``*.wav`` and ``*.flac`` files, sorted by stem; its videos its ``*.mp4`` files.
* FD-PANN, FD-VGG and IS-PANNs use every file of each folder, paired or not.
* KL-PANNs pairs a generated file with the reference file of exactly the same stem.
* Every other paired metric (FD/KL/IS with PaSST, IB-score, DeSync, CLAP) maps each generated stem
  through :func:`clean_sample_name` first, so ``zxpo56cpUBU_000007-0`` (a first sample of video
  ``zxpo56cpUBU_000007``) pairs with ``zxpo56cpUBU_000007``. The rule goes by the name's *length* alone,
  as av-benchmark's does: any 20-, 21- or 30-character stem is cut, whatever it looks like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foleyzoo.errors import MediaError

__all__ = ["Pairs", "clean_sample_name", "list_media", "pair_by_clean_name", "pair_exact"]

_CUTS = {30: (10, 28), 20: (0, 18), 21: (1, 19)}
"""Stem length → the slice av-benchmark keeps: ``000000014_zxpo56cpUBU_000007-0`` (a numbered sample),
``zxpo56cpUBU_000007-0`` (a VGGSound id with a sample index) and ``Y---g-f_I2yQ_000001_0`` (an AudioSet-style
``Y`` id with a sample index) all become the 18-character VGGSound id."""


def clean_sample_name(stem: str) -> str:
    """The reference stem av-benchmark pairs a generated stem with (its ``clean_sample_name`` rule)."""
    cut = _CUTS.get(len(stem))
    return stem if cut is None else stem[cut[0] : cut[1]]


def list_media(folder: Path, suffixes: Sequence[str], what: str) -> tuple[dict[str, Path], list[Path]]:
    """({stem: file} sorted by stem, [files of other kinds, ignored]) of a folder, as av-benchmark lists it."""
    if not folder.is_dir():
        raise MediaError(f"{folder}: {what} folder not found")
    files: dict[str, Path] = {}
    ignored = []
    for path in sorted(folder.iterdir(), key=lambda p: (p.stem, p.suffix)):
        if not path.is_file():
            continue
        if path.suffix.lower() not in suffixes:
            ignored.append(path)
            continue
        if path.stem in files:
            raise MediaError(
                f"{folder}: two {what} files share the stem {path.stem!r}: {files[path.stem].name}, {path.name}"
            )
        files[path.stem] = path
    return files, ignored


@dataclass(frozen=True)
class Pairs:
    """Generated and reference keys paired in order, and the names neither side could pair."""

    generated: list[str]
    reference: list[str]
    unpaired: list[str]

    def __len__(self) -> int:
        return len(self.generated)


def pair_by_clean_name(reference: Sequence[str], generated: Sequence[str]) -> Pairs:
    """Each generated key (in its order) whose cleaned name is a reference key, with that key."""
    cleaned = {key: clean_sample_name(key) for key in generated}
    known = set(reference)
    pairs = [(key, name) for key, name in cleaned.items() if name in known]
    unpaired = sorted(known ^ set(cleaned.values()))
    return Pairs([g for g, _ in pairs], [r for _, r in pairs], unpaired)


def pair_exact(reference: Sequence[str], generated: Sequence[str]) -> Pairs:
    """Each generated key (in its order) that is also a reference key (KL-PANNs' rule)."""
    known = set(reference)
    kept = [key for key in generated if key in known]
    return Pairs(kept, list(kept), sorted(known ^ set(generated)))
