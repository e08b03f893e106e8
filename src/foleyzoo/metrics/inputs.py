"""The clips ``foleyzoo eval`` scores: generated files paired by stem with references, videos and captions.

A source is a folder of media files or a CSV manifest. The manifest here lists clips to pair (an id, maybe
a caption and a file); it accepts the column names of the common benchmark lists and VGGSound's
header-less ``youtube_id,start,label,split`` rows. (Training manifests, which give each clip's file and
window, are :func:`foleyzoo.data.datasets.read_manifest`.)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from foleyzoo.data.datasets import VIDEO_EXTENSIONS
from foleyzoo.errors import ConfigError, MediaError

__all__ = [
    "AUDIO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Inputs",
    "ManifestRow",
    "collect",
    "gather_inputs",
    "read_manifest",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
VIDEO_SUFFIXES = VIDEO_EXTENSIONS
ID_COLUMNS = ("id", "name", "ytid", "youtube_id", "video_id", "video", "file", "filename", "stem")
CAPTION_COLUMNS = ("caption", "text", "prompt", "label", "description")
PATH_COLUMNS = ("path", "audio", "audio_path", "video_path", "filepath")


@dataclass
class ManifestRow:
    """One line of a manifest: the clip id, its caption (maybe empty) and its file (maybe unknown)."""

    id: str
    caption: str = ""
    path: Path | None = None


def _pick(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {column.strip().lower(): column for column in columns}
    return next((lowered[name] for name in names if name in lowered), None)


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a CSV manifest: with a header naming an id column (and maybe caption and path columns), or
    VGGSound's header-less ``youtube_id,start,label,split`` (id ``<youtube_id>_<start:06d>``, test rows only).

    Relative paths are relative to the manifest's folder. A file that is none of these is a ConfigError.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the manifest ({type(exc).__name__}: {exc})") from exc
    if not rows:
        raise ConfigError(f"{path}: the manifest is empty")
    header = rows[0]
    id_column = _pick(header, ID_COLUMNS)
    if id_column is not None:
        caption_column, path_column = _pick(header, CAPTION_COLUMNS), _pick(header, PATH_COLUMNS)
        index = {name: header.index(name) for name in (id_column, caption_column, path_column) if name}
        out = []
        for number, row in enumerate(rows[1:], start=2):
            if len(row) < len(header):
                raise ConfigError(f"{path}: line {number} has {len(row)} fields, the header {len(header)}")
            stem = row[index[id_column]].strip()
            caption = row[index[caption_column]].strip() if caption_column else ""
            file = row[index[path_column]].strip() if path_column else ""
            out.append(ManifestRow(Path(stem).stem if "." in stem else stem, caption, _relative(path, file)))
        return out
    if all(len(row) == 4 for row in rows) and all(_is_number(row[1]) for row in rows):
        return [
            ManifestRow(f"{row[0].strip()}_{int(float(row[1])):06d}", row[2].strip())
            for row in rows
            if row[3].strip().lower() == "test"
        ]
    raise ConfigError(
        f"{path}: not a manifest foleyzoo reads: give a header with an id column ({', '.join(ID_COLUMNS)}) "
        "and optionally caption and path columns, or VGGSound's youtube_id,start,label,split rows"
    )


def _relative(manifest: Path, file: str) -> Path | None:
    if not file:
        return None
    candidate = Path(file).expanduser()
    return candidate if candidate.is_absolute() else manifest.parent / candidate


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def collect(source: Path, suffixes: Sequence[str], what: str) -> tuple[dict[str, Path], dict[str, str]]:
    """(stem → file, stem → caption) of a folder of media files or of a CSV manifest."""
    if not source.exists():
        raise ConfigError(f"{source}: {what} not found (a folder of files or a CSV manifest)")
    if source.is_file():
        rows = read_manifest(source)
        files, captions = {}, {row.id: row.caption for row in rows if row.caption}
        for row in rows:
            file = row.path if row.path is not None else _in_folder(source.parent, row.id, suffixes)
            if file is None or not file.is_file():
                raise MediaError(
                    f"{source}: no {what} file for id {row.id!r} ({file or 'not listed, none found'})"
                )
            files[row.id] = file
        return files, captions
    files: dict[str, Path] = {}
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise MediaError(
                    f"{source}: two {what} files share the stem {path.stem!r}: {files[path.stem].name}, {path.name}"
                )
            files[path.stem] = path
    if not files:
        raise MediaError(f"{source}: no {what} files ({', '.join(suffixes)}) in the folder")
    return files, {}


def _in_folder(folder: Path, stem: str, suffixes: Sequence[str]) -> Path | None:
    return next(
        (folder / f"{stem}{suffix}" for suffix in suffixes if (folder / f"{stem}{suffix}").is_file()), None
    )


@dataclass
class Inputs:
    """The paired clips: ids, generated and reference files, videos, captions, and what stayed unpaired."""

    ids: list[str]
    generated: dict[str, Path]
    reference: dict[str, Path]
    videos: dict[str, Path] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    generated_only: list[str] = field(default_factory=list)
    reference_only: list[str] = field(default_factory=list)


def gather_inputs(
    generated_source: Path,
    reference_source: Path | None = None,
    video_source: Path | None = None,
    caption_source: Path | None = None,
) -> Inputs:
    """Pair the generated files with reference files (or the videos' soundtracks) by stem."""
    media = AUDIO_SUFFIXES + VIDEO_SUFFIXES
    generated, _ = collect(generated_source, media, "generated audio")
    videos, video_captions = collect(video_source, VIDEO_SUFFIXES, "video") if video_source else ({}, {})
    if reference_source is not None:
        reference, captions = collect(reference_source, media, "reference audio")
    elif videos:
        reference, captions = videos, {}
    else:
        raise ConfigError(
            "give --reference (audio files or a manifest), or --videos whose soundtracks are the reference"
        )
    captions = {**video_captions, **captions}
    if caption_source is not None:
        if not caption_source.is_file():
            raise ConfigError(f"{caption_source}: captions file not found")
        captions.update({row.id: row.caption for row in read_manifest(caption_source) if row.caption})
    ids = sorted(set(generated) & set(reference))
    if not ids:
        raise MediaError(
            f"{generated_source}: no generated file shares a stem with a reference file in {reference_source or video_source} "
            f"(e.g. {sorted(generated)[:3]} vs {sorted(reference)[:3]})"
        )
    return Inputs(
        ids=ids,
        generated=generated,
        reference=reference,
        videos=videos,
        captions=captions,
        generated_only=sorted(set(generated) - set(reference)),
        reference_only=sorted(set(reference) - set(generated)),
    )
