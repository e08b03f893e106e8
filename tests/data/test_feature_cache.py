"""The feature cache: identical to on-the-fly features, sharded, distributable, and `foleyzoo extract`."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import DataLoader

from foleyzoo.cli.main import main
from foleyzoo.data.cache import (
    CacheDataset,
    FeatureEncoders,
    ShardedCacheIterable,
    collate_features,
    encode_item,
    extract_features,
    items_for_rank,
)
from foleyzoo.data.clips import ClipFormat
from foleyzoo.data.datasets import ClipDataset, scan_video_folder
from foleyzoo.encoders.sync import TinySync3DCNN
from foleyzoo.encoders.text import ByteTextEncoder
from foleyzoo.encoders.visual import TinyVisualCNN
from foleyzoo.errors import ConfigError

FMT = ClipFormat(visual_fps=8.0, visual_size=(32, 32), sync_fps=24.0, sync_size=(32, 32), sample_rate=16000)


@pytest.fixture(scope="module")
def encoders() -> FeatureEncoders:
    torch.manual_seed(0)
    return FeatureEncoders(
        visual=TinyVisualCNN().eval(), sync=TinySync3DCNN().eval(), text=ByteTextEncoder().eval()
    )


@pytest.fixture(scope="module")
def cache(video_folder, encoders, tmp_path_factory):
    dataset = ClipDataset(scan_video_folder(video_folder), FMT)
    root = tmp_path_factory.mktemp("cache")
    extract_features(dataset, encoders, FMT, root, shard_bytes=150_000)  # small shards: several of them
    return dataset, CacheDataset(root)


def test_cached_features_equal_on_the_fly_features(cache, encoders):
    dataset, cached = cache
    assert len(cached) == len(dataset) == 6
    for index in range(len(dataset)):
        item = dataset[index]
        fresh = encode_item(item, encoders, FMT)
        stored = cached[index]
        assert stored["id"] == item["id"] and stored["caption"] == item["caption"]
        assert set(fresh) == {"visual", "visual_tokens", "sync", "text_tokens", "text_pooled", "audio"}
        for key, value in fresh.items():
            assert torch.equal(stored[key], value), key


def test_cache_is_sharded_and_indexed(cache):
    _, cached = cache
    assert len(cached.shards) >= 3
    assert cached.rates["visual"] == 8.0 and cached.rates["sync"] == 24.0 and cached.rates["audio"] == 16000
    assert cached.encoders["visual"] == "foleyzoo.encoders.visual.tiny_cnn.TinyVisualCNN"


def test_batches_of_cached_items_are_foleyzoo_records(cache):
    _, cached = cache
    batch = collate_features([cached[0], cached[4]], cached.rates)
    assert batch["visual"].values.shape[:2] == (2, 14) and batch["visual"].mask.sum(1).tolist() == [8, 14]
    assert batch["visual"].tokens.shape[:3] == (2, 14, 16)
    assert batch["sync"].fps == 24.0 and batch["sync"].mask.sum(1).tolist() == [24, 43]
    assert batch["text"].pooled.shape == (2, 64) and batch["text"].mask.sum(1).tolist() == [6, 1]
    assert batch["audio"].samples.shape == (2, 1, 28800) and batch["audio_mask"].sum(1).tolist() == [
        16000,
        28800,
    ]


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ranks_read_distinct_shards_in_equal_numbers(cache, world):
    _, cached = cache
    per_rank = [items_for_rank(cached, rank, world) for rank in range(world)]
    assert len({len(items) for items in per_rank}) == 1
    flat = [i for items in per_rank for i in items]
    assert len(flat) == len(set(flat))
    if len(cached.shards) >= world:
        shards = [{cached.items[i]["shard"] for i in items} for items in per_rank]
        assert all(not a & b for n, a in enumerate(shards) for b in shards[n + 1 :])


def test_streaming_with_workers_yields_each_item_once_in_a_seeded_order(cache):
    _, cached = cache
    loader = DataLoader(ShardedCacheIterable(cached, seed=3), batch_size=None, num_workers=2)
    torch.manual_seed(0)
    first = [item["id"] for item in loader]
    torch.manual_seed(0)
    again = [item["id"] for item in loader]
    torch.manual_seed(1)
    other = [item["id"] for item in loader]
    assert sorted(first) == sorted(item["id"] for item in cached.items) and first == again and other != first


def test_corrupt_or_missing_cache_is_a_clear_error(tmp_path, cache):
    with pytest.raises(ConfigError, match="not a feature cache"):
        CacheDataset(tmp_path)
    (tmp_path / "index.json").write_text("{broken")
    with pytest.raises(ConfigError, match=r"index.json: corrupt index"):
        CacheDataset(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(ConfigError, match="cache version 99"):
        CacheDataset(tmp_path)


def test_extract_command_writes_each_split(video_folder, tmp_path, capsys):
    args = [
        "extract", "--data", "VideoDataModule", f"--data.train={video_folder}", "--data.val_percent=40",
        "--data.visual_size=[32, 32]", "--data.sync_size=[32, 32]",
        "--visual-encoder", "TinyVisualCNN", "--text-encoder", "ByteTextEncoder", f"--output={tmp_path}",
    ]  # fmt: skip
    assert main(args) == 0
    train, val = CacheDataset(tmp_path / "train"), CacheDataset(tmp_path / "val")
    assert len(train) + len(val) == 6 and len(val) > 0
    assert "visual" in train[0] and "text_pooled" in train[0]
    assert "sync" not in train[0]  # no sync encoder was given, so no sync features are stored
    assert main([*args[:-1], "--data.visual_fps=5", f"--out={tmp_path / 'x'}"]) == 2  # the old spelling
    assert "data.visual_fps is 5.0, but TinyVisualCNN wants fps 8.0" in capsys.readouterr().err
