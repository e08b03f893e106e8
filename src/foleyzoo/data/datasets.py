"""Datasets of real videos: a folder of video files, or a manifest of (id, start, duration, caption) rows.

Both decode on the fly (see :mod:`foleyzoo.data.clips`); for repeated training, extract features once
with ``foleyzoo extract`` and train from :class:`foleyzoo.data.cache.CacheDataset` instead.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from foleyzoo.data.clips import ClipFormat, ClipRef, load_clip
from foleyzoo.errors import ConfigError, MediaError

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")


def in_validation_split(item_id: str, val_percent: float) -> bool:
    """A stable split by id: the same clip stays on the same side when files are added or reordered."""
    return (zlib.crc32(item_id.encode()) % 10_000) < val_percent * 100


def read_caption_sidecar(video: Path) -> str:
    """``<stem>.txt`` (its text) or ``<stem>.json`` (its "caption" key) next to a video; "" if neither."""
    text = video.with_suffix(".txt")
    if text.is_file():
        return text.read_text().strip()
    sidecar = video.with_suffix(".json")
    if sidecar.is_file():
        try:
            return str(json.loads(sidecar.read_text()).get("caption", "")).strip()
        except (json.JSONDecodeError, AttributeError) as exc:
            raise ConfigError(f"{sidecar}: not a JSON object with a caption ({exc})") from exc
    return ""


class ClipDataset(Dataset):
    """Items from a list of :class:`ClipRef`, optionally as random crops of ``crop_duration`` seconds.

    With ``skip_missing_audio``, a video without an audio track (it has nothing to learn from) does not
    stop training: the next clip that has one takes its place, and the item lists the skipped files
    under ``"skipped"`` so that the main process can count and report them (see
    :mod:`foleyzoo.data.skipped`). Any other bad file still raises its :class:`MediaError`.
    """

    def __init__(
        self,
        refs: Sequence[ClipRef],
        fmt: ClipFormat,
        crop_duration: float | None = None,
        random_crop: bool = False,
        skip_missing_audio: bool = False,
    ) -> None:
        self.refs, self.fmt = list(refs), fmt
        self.crop_duration, self.random_crop = crop_duration, random_crop
        self.skip_missing_audio = skip_missing_audio and fmt.sample_rate is not None

    def __len__(self) -> int:
        return len(self.refs)

    def window(self, ref: ClipRef) -> tuple[float, float | None]:
        """(start, duration) of the item: the crop (random or the first) inside the reference's window."""
        if self.crop_duration is None:
            return ref.start, ref.duration
        available = ref.duration
        if available is None:
            from foleyzoo.io.media import probe

            available = probe(ref.path).duration - ref.start
        slack = max(0.0, available - self.crop_duration)
        offset = float(torch.rand(()) * slack) if self.random_crop else 0.0
        return ref.start + offset, min(self.crop_duration, available)

    def __getitem__(self, index: int) -> dict:
        if not self.skip_missing_audio:
            return self.load(self.refs[index])
        from foleyzoo.io.media import MissingStreamError  # PyAV only where media is read

        skipped: list[str] = []
        for step in range(len(self.refs)):  # each file is tried at most once
            ref = self.refs[(index + step) % len(self.refs)]
            try:
                item = self.load(ref)
            except MissingStreamError as exc:
                if exc.kind != "audio":
                    raise
                skipped.append(str(ref.path))
                continue
            if skipped:
                item["skipped"] = skipped
            return item
        raise MediaError(
            f"{self.refs[0].path.parent}: none of the {len(self.refs)} videos has an audio track "
            f"(the first is {self.refs[0].path}); training needs their sound"
        )

    def load(self, ref: ClipRef) -> dict:
        """The item of one reference (its crop, if cropping), without any skipping."""
        start, duration = self.window(ref)
        return load_clip(ref, self.fmt, start, duration)


def scan_video_folder(root: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[ClipRef]:
    """Every video under ``root`` (recursively, sorted), with its caption sidecar if any."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: video folder not found")
    videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in extensions and p.is_file())
    if not videos:
        raise ConfigError(f"{root}: no video files ({', '.join(extensions)}) found")
    return [
        ClipRef(id=p.relative_to(root).with_suffix("").as_posix(), path=p, caption=read_caption_sidecar(p))
        for p in videos
    ]


def read_manifest(manifest: str | Path, root: str | Path | None = None) -> list[ClipRef]:
    """Rows of a CSV/TSV manifest with a header: ``id`` (or ``path``), optional ``start``, ``duration``, ``caption``.

    ``id`` names ``<root>/<id>.<ext>`` for any video extension (root defaults to the manifest's folder);
    ``path`` names a file directly. This is the shape of VGGSound and Kling-Audio-Eval style lists.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ConfigError(f"{manifest}: manifest not found")
    root = Path(root) if root is not None else manifest.parent
    delimiter = "\t" if manifest.suffix.lower() in (".tsv", ".tab") else ","
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    refs = []
    for line, row in enumerate(rows, start=2):
        refs.append(_manifest_row(row, root, manifest, line))
    if not refs:
        raise ConfigError(f"{manifest}: no rows")
    return refs


def _manifest_row(row: dict[str, str], root: Path, manifest: Path, line: int) -> ClipRef:
    where = f"{manifest}:{line}"
    if row.get("path"):
        path = Path(row["path"]) if Path(row["path"]).is_absolute() else root / row["path"]
        item_id = row.get("id") or Path(row["path"]).with_suffix("").as_posix()
    elif row.get("id"):
        item_id = row["id"]
        candidates = [root / f"{item_id}{ext}" for ext in VIDEO_EXTENSIONS]
        path = next((c for c in candidates if c.is_file()), candidates[0])
    else:
        raise ConfigError(
            f"{where}: a row needs an 'id' or a 'path' column (header: id,start,duration,caption)"
        )
    try:
        start = float(row.get("start") or 0.0)
        duration = float(row["duration"]) if row.get("duration") else None
    except ValueError as exc:
        raise ConfigError(f"{where}: start and duration must be numbers of seconds ({exc})") from exc
    return ClipRef(
        id=item_id, path=path, start=start, duration=duration, caption=(row.get("caption") or "").strip()
    )
