"""The feature cache: frozen-encoder and codec outputs computed once, stored as sharded safetensors.

Layout of a cache folder::

    index.json                 version, feature rates, encoder class paths, shard names, one row per item
    shard-00000.safetensors    for each feature key, every item's (T, ...) tensor concatenated along T
    shard-00001.safetensors    ...

An item's row gives its shard and, per key, the ``[offset, length]`` of its rows, so a reader memory-maps
the shard and copies only that slice. Shards are the unit of distribution: :class:`ShardedCacheIterable`
gives each rank (and each worker within it) whole shards of its own. At cluster scale, stream the same
shards from shared or object storage with a streaming loader such as litdata instead (see the docs).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from foleyzoo.api import (
    AudioCodec,
    FrameFeatures,
    Latents,
    SyncEncoder,
    TextEncoder,
    TextFeatures,
    Video,
    VisualEncoder,
    Waveform,
)
from foleyzoo.data.clips import ClipFormat, pad_stack
from foleyzoo.errors import ConfigError

CACHE_VERSION = 1
INDEX_NAME = "index.json"


@dataclass
class FeatureEncoders:
    """The frozen parts whose outputs a cache stores; a missing one leaves its feature out.

    Without a codec the cache keeps the waveform itself (``audio``), so training can encode it later.
    """

    visual: VisualEncoder | None = None
    sync: SyncEncoder | None = None
    text: TextEncoder | None = None
    codec: AudioCodec | None = None

    def rates(self, fmt: ClipFormat) -> dict[str, float | None]:
        """Feature key → items a second along its first axis (None: not a time axis)."""
        rates: dict[str, float | None] = {"text_tokens": None, "text_pooled": None}
        if self.visual is not None:
            rates["visual"] = rates["visual_tokens"] = self.visual.fps
        if self.sync is not None:
            rates["sync"] = self.sync.feature_rate
        if self.codec is not None:
            rates["latents"] = self.codec.latent_rate
        elif fmt.sample_rate is not None:
            rates["audio"] = float(fmt.sample_rate)
        return rates

    def class_paths(self) -> dict[str, str]:
        parts = {"visual": self.visual, "sync": self.sync, "text": self.text, "codec": self.codec}
        return {k: f"{type(v).__module__}.{type(v).__qualname__}" for k, v in parts.items() if v is not None}


@torch.no_grad()
def encode_item(item: dict[str, Any], encoders: FeatureEncoders, fmt: ClipFormat) -> dict[str, Tensor]:
    """One decoded clip → its cached features, each (T, ...) with the batch axis removed."""
    features: dict[str, Tensor] = {}
    if encoders.visual is not None and "visual" in item:
        visual = encoders.visual.encode(Video(item["visual"][None], fps=float(fmt.visual_fps or 0)))
        features["visual"] = visual.values[0]
        if visual.tokens is not None:
            features["visual_tokens"] = visual.tokens[0]
    if encoders.sync is not None and "sync" in item:
        features["sync"] = encoders.sync.encode(
            Video(item["sync"][None], fps=float(fmt.sync_fps or 0))
        ).values[0]
    if encoders.text is not None:
        text = encoders.text.encode([item["caption"]])
        features["text_tokens"] = text.tokens[0, : int(text.mask[0].sum())]
        features["text_pooled"] = text.pooled
    if "audio" in item:
        if encoders.codec is not None:
            mono = item["audio"].mean(0, keepdim=True)[None]
            features["latents"] = encoders.codec.encode(Waveform(mono, int(fmt.sample_rate or 0))).values[0]
        else:
            features["audio"] = item["audio"].T.contiguous()
    return {key: value.detach().float().cpu().contiguous() for key, value in features.items()}


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class ShardWriter:
    """Collects items' features and writes a shard whenever ``shard_bytes`` is reached; ``close`` writes the index."""

    def __init__(self, root: str | Path, shard_bytes: int = 64 << 20) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.shard_bytes = shard_bytes
        self.shards: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self._pending: dict[str, list[Tensor]] = {}
        self._pending_rows: list[dict[str, Any]] = []
        self._bytes = 0

    def add(self, meta: dict[str, Any], features: dict[str, Tensor]) -> None:
        slices = {}
        for key, tensor in features.items():
            offset = sum(t.shape[0] for t in self._pending.get(key, []))
            self._pending.setdefault(key, []).append(tensor)
            slices[key] = [offset, tensor.shape[0]]
            self._bytes += tensor.numel() * tensor.element_size()
        self._pending_rows.append({**meta, "shard": len(self.shards), "slices": slices})
        if self._bytes >= self.shard_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._pending_rows:
            return
        name = f"shard-{len(self.shards):05d}.safetensors"
        tmp = self.root / f".{name}.tmp"
        save_file({key: torch.cat(parts) for key, parts in self._pending.items()}, str(tmp))
        os.replace(tmp, self.root / name)
        self.shards.append(name)
        self.rows.extend(self._pending_rows)
        self._pending, self._pending_rows, self._bytes = {}, [], 0

    def close(self, header: dict[str, Any]) -> Path:
        self.flush()
        index = {"version": CACHE_VERSION, **header, "shards": self.shards, "items": self.rows}
        path = self.root / INDEX_NAME
        _atomic_write_text(path, json.dumps(index, indent=1))
        return path


def extract_features(
    dataset: Dataset,
    encoders: FeatureEncoders,
    fmt: ClipFormat,
    root: str | Path,
    shard_bytes: int = 64 << 20,
    progress: Any = None,
) -> Path:
    """Run the frozen encoders (and codec) over every item of ``dataset`` once; returns the index path."""
    for part in (encoders.visual, encoders.sync, encoders.text, encoders.codec):
        if part is not None:
            part.eval()
    writer = ShardWriter(root, shard_bytes)
    for index in range(len(dataset)):  # type: ignore[arg-type]
        item = dataset[index]
        meta = {key: item[key] for key in ("id", "caption", "start", "duration")}
        writer.add(meta, encode_item(item, encoders, fmt))
        if progress is not None:
            progress(index + 1)
    header = {"rates": encoders.rates(fmt), "encoders": encoders.class_paths()}
    return writer.close(header)


class CacheDataset(Dataset):
    """Items of a feature cache, read memory-mapped: ``{"id", "caption", "start", "duration", <features>}``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX_NAME
        if not index_path.is_file():
            raise ConfigError(
                f"{self.root}: not a feature cache (no {INDEX_NAME}); create one with `foleyzoo extract`"
            )
        try:
            index = json.loads(index_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{index_path}: corrupt index ({exc})") from exc
        if index.get("version") != CACHE_VERSION:
            raise ConfigError(
                f"{index_path}: cache version {index.get('version')}, this foleyzoo reads {CACHE_VERSION}"
            )
        self.rates: dict[str, float | None] = index["rates"]
        self.encoders: dict[str, str] = index.get("encoders", {})
        self.shards: list[str] = index["shards"]
        self.items: list[dict[str, Any]] = index["items"]
        self._handles: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}  # memory maps are opened again in each worker process
        return state

    def _shard(self, number: int) -> Any:
        if number not in self._handles:
            self._handles[number] = safe_open(str(self.root / self.shards[number]), framework="pt")
        return self._handles[number]

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.items[index]
        shard = self._shard(row["shard"])
        item = {key: row[key] for key in ("id", "caption", "start", "duration")}
        for key, (offset, length) in row["slices"].items():
            item[key] = shard.get_slice(key)[offset : offset + length]
        return item


def items_for_rank(dataset: CacheDataset, rank: int, world_size: int) -> list[int]:
    """Item indices for one rank: whole shards dealt round-robin, cut to the shortest rank's count.

    Equal counts keep DDP ranks in step; with fewer shards than ranks, items are dealt instead.
    """
    if len(dataset.shards) >= world_size:
        mine = [i for i, row in enumerate(dataset.items) if row["shard"] % world_size == rank]
        counts = [
            sum(1 for row in dataset.items if row["shard"] % world_size == r) for r in range(world_size)
        ]
    else:
        mine = list(range(rank, len(dataset), world_size))
        counts = [len(range(r, len(dataset), world_size)) for r in range(world_size)]
    return mine[: min(counts)]


class ShardedCacheIterable(IterableDataset):
    """Streams a cache so that each DDP rank reads its own shards, in a new order every epoch.

    The order comes from ``seed`` and the seed the DataLoader draws for each epoch (shared by its
    workers), so runs under ``seed_everything`` repeat exactly and workers agree on one permutation.
    """

    def __init__(self, dataset: CacheDataset, shuffle: bool = True, seed: int = 0) -> None:
        self.dataset, self.shuffle, self.seed = dataset, shuffle, seed

    def _rank(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world = self._rank()
        indices = items_for_rank(self.dataset, rank, world)
        worker = get_worker_info()
        if self.shuffle:
            epoch_seed = worker.seed - worker.id if worker is not None else int(torch.randint(1 << 62, ()))
            random.Random(self.seed * 1_000_003 + epoch_seed).shuffle(indices)
        if worker is not None:
            indices = indices[worker.id :: worker.num_workers]
        for index in indices:
            yield self.dataset[index]

    def __len__(self) -> int:
        rank, world = self._rank()
        return len(items_for_rank(self.dataset, rank, world))


def collate_features(items: Sequence[dict[str, Any]], rates: dict[str, float | None]) -> dict[str, Any]:
    """Batch cached items into foleyzoo's records: FrameFeatures, TextFeatures, Latents or Waveform, with masks."""
    batch: dict[str, Any] = {
        "ids": [item["id"] for item in items],
        "captions": [item["caption"] for item in items],
        "has_caption": torch.tensor([bool(item["caption"].strip()) for item in items], dtype=torch.bool),
        "duration": torch.tensor([[item["start"], item["duration"]] for item in items], dtype=torch.float32),
    }
    first = items[0]
    for key in ("visual", "sync"):
        if key in first:
            values, mask = pad_stack([item[key] for item in items])
            tokens = (
                pad_stack([item[f"{key}_tokens"] for item in items])[0] if f"{key}_tokens" in first else None
            )
            batch[key] = FrameFeatures(values=values, fps=float(rates[key] or 0), mask=mask, tokens=tokens)
    if "text_tokens" in first:
        tokens, mask = pad_stack([item["text_tokens"] for item in items])
        pooled = torch.cat([item["text_pooled"] for item in items])
        batch["text"] = TextFeatures(tokens=tokens, mask=mask, pooled=pooled)
    if "latents" in first:
        values, mask = pad_stack([item["latents"] for item in items])
        batch["latents"] = Latents(values=values, frame_rate=float(rates["latents"] or 0), mask=mask)
    if "audio" in first:
        samples, mask = pad_stack([item["audio"] for item in items])
        batch["audio"] = Waveform(samples=samples.transpose(1, 2), sample_rate=int(rates["audio"] or 0))
        batch["audio_mask"] = mask
    return batch
