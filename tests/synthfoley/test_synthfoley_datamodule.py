"""SynthFoley as training data: in memory and from a `foleyzoo synth make` folder, aligned the same way."""

from __future__ import annotations

import pytest
import torch

from foleyzoo.cli.main import main
from foleyzoo.errors import ConfigError
from foleyzoo.synthfoley.datamodule import SynthFoleyDataModule, resample_frames


def test_resample_frames_picks_the_frame_shown_at_each_instant():
    frames = torch.arange(24, dtype=torch.float32).reshape(24, 1, 1, 1).expand(24, 3, 2, 2)
    picked = resample_frames(frames, 24.0, 8.0, (2, 2))
    assert picked[:, 0, 0, 0].tolist() == [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0]
    assert resample_frames(frames, 24.0, 10.0, (4, 4)).shape == (10, 3, 4, 4)


def test_in_memory_items_are_deterministic_and_splits_differ():
    module = SynthFoleyDataModule(num_train=3, num_val=2, seed=5, batch_size=3, num_workers=0)
    module.setup("fit")
    first = module.train_set[1]
    rebuilt = SynthFoleyDataModule(num_train=3, num_val=2, seed=5, num_workers=0)
    rebuilt.setup("fit")
    assert (
        torch.equal(first["audio"], rebuilt.train_set[1]["audio"])
        and first["caption"] == rebuilt.train_set[1]["caption"]
    )
    assert not torch.equal(module.train_set[0]["audio"], module.val_set[0]["audio"])
    batch = next(iter(module.train_dataloader()))
    assert batch["visual"].frames.shape == (3, 32, 3, 64, 64) and batch["sync"].frames.shape == (
        3,
        96,
        3,
        64,
        64,
    )
    assert batch["audio"].samples.shape == (3, 1, 64000) and len(batch["meta"]) == 3
    assert batch["meta"][0]["events"][0]["class"] in ("bell", "wood", "spring", "glass")


def test_cached_items_are_generated_once_and_equal_fresh_ones():
    kwargs = {
        "num_train": 2,
        "num_val": 1,
        "seed": 3,
        "visual_fps": None,
        "sync_size": (32, 32),
        "num_workers": 0,
    }
    cached, fresh = SynthFoleyDataModule(cache=True, **kwargs), SynthFoleyDataModule(**kwargs)
    cached.setup("fit"), fresh.setup("fit")
    first = cached.train_set[1]
    assert cached.train_set[1] is first  # kept, not generated again
    assert fresh.train_set[1] is not fresh.train_set[1]  # without the cache every access generates
    assert torch.equal(first["sync"], fresh.train_set[1]["sync"]) and first["sync"].shape == (96, 3, 32, 32)
    assert torch.equal(first["audio"], fresh.train_set[1]["audio"])


def test_in_memory_mode_refuses_another_sample_rate():
    with pytest.raises(ConfigError, match="in-memory SynthFoley audio is 16000 Hz, but sample_rate is 44100"):
        SynthFoleyDataModule(num_train=1, sample_rate=44100).setup("fit")


def test_folder_mode_reads_what_synth_make_wrote(tmp_path):
    assert (
        main(["synth", "make", "--output", str(tmp_path), "--clips", "4", "--seed", "5", "--workers", "1"])
        == 0
    )
    memory = SynthFoleyDataModule(num_train=4, seed=5, num_workers=0)
    memory.setup("fit")
    folder = SynthFoleyDataModule(folder=str(tmp_path), val_percent=0, num_workers=0)
    folder.setup("fit")
    by_id = {ref.id: index for index, ref in enumerate(folder.train_set.refs)}
    decoded, generated = folder.train_set[by_id["clip_00002"]], memory.train_set[2]
    assert decoded["caption"] == generated["caption"]
    assert decoded["visual"].shape == generated["visual"].shape
    assert (decoded["visual"] - generated["visual"]).abs().mean() < 0.02  # H.264 keeps the picture
    envelope = [x.abs().unfold(-1, 400, 400).mean(-1) for x in (decoded["audio"], generated["audio"])]
    assert torch.corrcoef(torch.cat(envelope))[0, 1] > 0.95  # AAC keeps the timing of every impact


def test_clean_clips_carry_the_events_without_the_noise_floor(tmp_path) -> None:
    from foleyzoo.synthfoley.generator import generate_clip

    module = SynthFoleyDataModule(num_train=2, num_val=1, seed=3, visual_fps=None, sync_fps=None, clean=True)
    module.setup("fit")
    clip = generate_clip((3, 1), 4.0)
    expected = torch.from_numpy(clip.clean_audio).mean(0, keepdim=True)
    assert torch.allclose(module.train_set[1]["audio"], expected)
    assert not torch.allclose(expected, torch.from_numpy(clip.audio).mean(0, keepdim=True))
    folder = SynthFoleyDataModule(folder=str(tmp_path), clean=True)
    with pytest.raises(ConfigError, match="clean=true and clean_fraction need in-memory clips"):
        folder.setup("fit")


def test_a_clean_fraction_serves_that_share_of_clips_clean_the_same_way_every_time(tmp_path) -> None:
    from foleyzoo.synthfoley.dataset import SynthFoleyDataset, make_item

    share = SynthFoleyDataset(48, seed=4, duration=1.0, clean_fraction=0.5)
    served = []
    for index in range(48):
        audio = share[index]["audio"]
        clean, noisy = (make_item(4, index, 1.0, clean=flag)["audio"] for flag in (True, False))
        assert torch.equal(audio, clean) or torch.equal(audio, noisy)
        served.append(torch.equal(audio, clean))
    assert served == [index % 2 == 1 for index in range(48)]  # evenly spread: every other clip
    again = SynthFoleyDataset(48, seed=4, duration=1.0, clean_fraction=0.5)
    assert [torch.equal(again[i]["audio"], share[i]["audio"]) for i in range(48)] == [True] * 48
    assert not any(
        torch.equal(item["audio"], make_item(4, i, 1.0, clean=True)["audio"])
        for i, item in enumerate(SynthFoleyDataset(8, seed=4, duration=1.0))
    )
    with pytest.raises(ValueError, match="clean_fraction must be in"):
        SynthFoleyDataset(4, clean_fraction=1.5)
    with pytest.raises(ConfigError, match="already serves every clip clean"):
        SynthFoleyDataModule(clean=True, clean_fraction=0.5)
    folder = SynthFoleyDataModule(folder=str(tmp_path), clean_fraction=0.5)
    with pytest.raises(ConfigError, match="clean_fraction need in-memory clips"):
        folder.setup("fit")


def test_a_varied_fraction_mixes_varied_and_standard_clips_evenly_by_index() -> None:
    from foleyzoo.synthfoley.dataset import make_item
    from foleyzoo.synthfoley.variation import Variety

    variety = Variety(bounds_share=1.0, stop_share=0.5)
    module = SynthFoleyDataModule(
        num_train=6, num_val=2, seed=7, clip_duration=1.0, varied=True, varied_fraction=0.5,
        bounds_share=1.0, stop_share=0.5, visual_fps=None, sync_fps=None, num_workers=0,
    )  # fmt: skip
    module.setup("fit")
    drawn = []
    for index in range(6):
        audio = module.train_set[index]["audio"]
        varied = make_item(7, index, 1.0, variety=variety)["audio"].mean(0, keepdim=True)
        standard = make_item(7, index, 1.0)["audio"].mean(0, keepdim=True)
        assert torch.equal(audio, varied) != torch.equal(audio, standard)
        drawn.append(torch.equal(audio, varied))
    assert drawn == [False, True] * 3  # every other clip varied, the same ones every time
    with pytest.raises(ConfigError, match="varied_fraction must be in"):
        SynthFoleyDataModule(varied=True, varied_fraction=1.5)
    with pytest.raises(ConfigError, match="set varied: true with it"):
        SynthFoleyDataModule(varied_fraction=0.5)  # a share of varied clips means nothing without varied


def test_clips_drawn_by_worker_processes_are_the_clips_drawn_one_by_one():
    options = dict(num_train=5, num_val=1, seed=3, cache=True, clean=True, visual_size=(16, 16))
    options.update(sync_size=(16, 16), num_workers=0)
    in_order = SynthFoleyDataModule(**options)
    in_order.setup("fit")
    drawn = SynthFoleyDataModule(**options, draw_processes=2)
    drawn.setup("fit")
    assert sorted(drawn.train_set.cache) == list(range(5))  # all drawn at set-up, none left for epoch one
    for index in range(5):
        ahead, lazy = drawn.train_set.cache[index], in_order.train_set[index]
        assert ahead["meta"] == lazy["meta"] and torch.equal(ahead["audio"], lazy["audio"])
        assert torch.equal(ahead["sync"], lazy["sync"]) and torch.equal(ahead["visual"], lazy["visual"])
        # copied back, not kept in shared memory: each shared tensor would hold a file descriptor open
        assert not any(ahead[name].is_shared() for name in ("audio", "sync", "visual"))


def test_drawing_processes_need_the_cache_and_at_least_one_process():
    with pytest.raises(ConfigError, match="cache: true"):
        SynthFoleyDataModule(num_train=2, draw_processes=2)
    with pytest.raises(ConfigError, match="at least 1"):
        SynthFoleyDataModule(num_train=2, cache=True, draw_processes=0)
