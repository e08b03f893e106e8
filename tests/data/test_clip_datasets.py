"""Video-folder and manifest datasets: aligned modalities, crops, masks, deterministic splits."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.data.clips import ClipFormat, collate_clips, pad_stack
from foleyzoo.data.datamodules import VideoDataModule
from foleyzoo.data.datasets import ClipDataset, read_manifest, scan_video_folder
from foleyzoo.errors import ConfigError

FMT = ClipFormat(visual_fps=8.0, visual_size=(16, 16), sync_fps=24.0, sync_size=(16, 16), sample_rate=16000)


def test_folder_scan_finds_videos_and_captions(video_folder):
    refs = {ref.id: ref for ref in scan_video_folder(video_folder)}
    assert sorted(refs) == ["clip0", "clip1", "clip2", "clip3", "clip4", "sub/clip5"]
    assert refs["clip0"].caption == "a bell" and refs["clip1"].caption == "a wooden knock"
    assert refs["clip2"].caption == ""


def test_items_are_time_aligned_across_modalities(video_folder):
    (ref,) = [r for r in scan_video_folder(video_folder) if r.id == "clip3"]  # 1.6 s
    item = ClipDataset([ref], FMT, crop_duration=1.0)[0]
    assert item["visual"].shape == (8, 3, 16, 16) and item["sync"].shape == (24, 3, 16, 16)
    assert item["audio"].shape == (1, 16000)
    # sync frame k shows t = k/24 s: the source frame round-down(k/24·30), brightness 8·that
    expected = torch.tensor([(int(k / 24 * 30 + 1e-9) * 8 % 256) / 255 for k in range(24)])
    assert torch.allclose(item["sync"][:, 0, 8, 8], expected, atol=6 / 255)


def test_random_crops_stay_inside_the_clip_and_vary(video_folder):
    (ref,) = [r for r in scan_video_folder(video_folder) if r.id == "clip4"]  # 1.8 s
    dataset = ClipDataset([ref], FMT, crop_duration=0.5, random_crop=True)
    torch.manual_seed(0)
    starts = {round(dataset[0]["start"], 4) for _ in range(6)}
    assert len(starts) > 1 and all(0.0 <= s <= 1.3 + 1e-6 for s in starts)
    assert ClipDataset([ref], FMT, crop_duration=0.5)[0]["start"] == 0.0


def test_collate_pads_and_masks_variable_lengths(video_folder):
    refs = [r for r in scan_video_folder(video_folder) if r.id in ("clip0", "clip4")]
    batch = collate_clips([ClipDataset(refs, FMT)[i] for i in range(2)], FMT)
    assert batch["visual"].frames.shape[:2] == (2, 14) and batch["visual"].mask.sum(1).tolist() == [8, 14]
    assert batch["sync"].mask.sum(1).tolist() == [24, 43]
    assert batch["audio_mask"].sum(1).tolist() == [16000, 28800]
    assert batch["audio"].samples[0, :, 16000:].abs().max() == 0
    assert torch.allclose(batch["duration"], torch.tensor([[0.0, 1.0], [0.0, 1.8]]), atol=1e-3)


def test_manifest_rows_windows_and_errors(video_folder, tmp_path):
    manifest = tmp_path / "list.tsv"
    manifest.write_text("id\tstart\tduration\tcaption\nclip2\t0.25\t0.5\ta spring boing\nsub/clip5\t0\t\t\n")
    refs = read_manifest(manifest, root=video_folder)
    assert refs[0].path == video_folder / "clip2.mp4" and (refs[0].start, refs[0].duration) == (0.25, 0.5)
    item = ClipDataset(refs, FMT)[0]
    assert item["visual"].shape[0] == 4 and item["caption"] == "a spring boing"
    assert item["audio"].shape[1] == 8000
    bad = tmp_path / "bad.csv"
    bad.write_text("name,start\nclip2,0\n")
    with pytest.raises(ConfigError, match=r"bad.csv:2: a row needs an 'id' or a 'path'"):
        read_manifest(bad, root=video_folder)
    worse = tmp_path / "worse.csv"
    worse.write_text("id,start\nclip2,soon\n")
    with pytest.raises(ConfigError, match=r"worse.csv:2: start and duration must be numbers"):
        read_manifest(worse, root=video_folder)


def test_datamodule_split_is_deterministic_and_disjoint(video_folder):
    first = VideoDataModule(str(video_folder), val_percent=40, **_small())
    train, val = first.split_refs()
    again_train, again_val = VideoDataModule(str(video_folder), val_percent=40, **_small()).split_refs()
    assert [r.id for r in train] == [r.id for r in again_train] and [r.id for r in val] == [
        r.id for r in again_val
    ]
    assert val and train and not {r.id for r in train} & {r.id for r in val}
    first.setup("fit")
    batch = next(iter(first.train_dataloader()))
    assert batch["visual"].frames.shape == (2, 4, 3, 16, 16)


def _small() -> dict:
    return {
        "visual_size": (16, 16),
        "sync_size": (16, 16),
        "crop_duration": 0.5,
        "batch_size": 2,
        "num_workers": 0,
    }


@pytest.mark.parametrize("lengths", [(3, 3, 3), (3, 1, 2)])
def test_pad_stack_pads_each_row_to_the_longest_and_marks_its_real_frames(lengths: tuple[int, ...]) -> None:
    rows = [torch.arange(n * 2, dtype=torch.float32).reshape(n, 2) + 1 for n in lengths]
    stacked, mask = pad_stack(rows)
    longest = max(lengths)
    assert stacked.shape == (len(lengths), longest, 2) and mask.shape == (len(lengths), longest)
    for row, (values, n) in enumerate(zip(rows, lengths, strict=True)):
        assert torch.equal(stacked[row, :n], values) and not stacked[row, n:].any()
        assert mask[row, :n].all() and not mask[row, n:].any()
