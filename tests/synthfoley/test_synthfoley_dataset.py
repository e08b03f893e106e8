"""SynthFoley datasets: item shapes, determinism independent of access order and of DataLoader workers."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.data import DataLoader

from foleyzoo.synthfoley.dataset import SynthFoleyDataset, SynthFoleyStream, collate_items, make_item
from foleyzoo.synthfoley.generator import generate_clip


def _same(a: dict, b: dict) -> bool:
    return (
        torch.equal(a["frames"], b["frames"])
        and torch.equal(a["audio"], b["audio"])
        and a["caption"] == b["caption"]
        and a["meta"] == b["meta"]
    )


def test_items_hold_frames_audio_caption_and_ground_truth() -> None:
    item = SynthFoleyDataset(num_clips=4, seed=3)[2]
    assert item["frames"].shape == (96, 3, 64, 64) and item["frames"].dtype == torch.float32
    assert float(item["frames"].min()) >= 0.0 and float(item["frames"].max()) <= 1.0
    assert item["audio"].shape == (2, 64000) and item["audio"].dtype == torch.float32
    clip = generate_clip((3, 2))  # item i of seed s is clip (s, i), as `foleyzoo synth make` writes it
    assert item["meta"] == clip.spec.to_json() and item["caption"] == clip.spec.caption
    assert torch.equal(item["audio"], torch.from_numpy(clip.audio))
    clean = SynthFoleyDataset(num_clips=4, seed=3, clean=True)[2]
    assert torch.equal(clean["audio"], torch.from_numpy(clip.clean_audio))


def test_items_do_not_depend_on_access_order() -> None:
    dataset = SynthFoleyDataset(num_clips=5, seed=11)
    backwards = [dataset[i] for i in reversed(range(5))][::-1]
    fresh = SynthFoleyDataset(num_clips=5, seed=11)
    assert all(_same(a, fresh[i]) for i, a in enumerate(backwards))
    assert _same(dataset[-1], dataset[4])
    assert dataset[0]["meta"] != SynthFoleyDataset(num_clips=5, seed=12)[0]["meta"]
    with pytest.raises(IndexError):
        dataset[5]


def test_loader_workers_give_the_same_batches_as_the_main_process() -> None:
    dataset = SynthFoleyDataset(num_clips=4, seed=1, duration=1.0)
    serial = list(DataLoader(dataset, batch_size=2, collate_fn=collate_items))
    parallel = list(DataLoader(dataset, batch_size=2, collate_fn=collate_items, num_workers=2))
    assert serial[0]["frames"].shape == (2, 24, 3, 64, 64) and serial[0]["audio"].shape == (2, 2, 16000)
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["audio"], b["audio"])
        assert a["meta"] == b["meta"] and a["caption"] == b["caption"]


def test_stream_is_clip_0_1_2_whatever_the_workers() -> None:
    expected = [make_item(9, i, duration=1.0)["meta"] for i in range(4)]
    for workers in (0, 2):
        loader = DataLoader(SynthFoleyStream(seed=9, duration=1.0), batch_size=None, num_workers=workers)
        assert [item["meta"] for item in itertools.islice(loader, 4)] == expected
