"""SynchformerDeSync equals av-benchmark's Synchformer code (DeSync): outputs recorded once, compared here.

The golden (tests/metrics/data/avbench_synchformer.safetensors, written by
``scripts/compare_avbench_synchformer.py record``) holds what av-benchmark's own code gave with seeded
random weights in the published layout: the audio features of synthetic wav files (DC offset, stereo,
16 / 44.1 / 48 kHz, 3, 5, 7 and 10 s) read by its ``SynchformerAudioDataset`` for 4.8 s and 8 s (first
64 channels), the offset logits, offsets and DeSync of its ``evaluate`` loop against seeded visual
features, its video preprocessing of two uint8 clips and the visual features of a two-segment clip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile
import torch
from safetensors import safe_open

from foleyzoo.api import Waveform
from foleyzoo.embedders.synchformer import (
    SynchformerDeSync,
    SynchformerNetwork,
    desync_score,
    offset_grid,
    preprocess_sync_frames,
    random_synchformer_state,
)
from foleyzoo.embedders.synchformer.parity import (
    AUDIO_CLIPS,
    parity_frames,
    parity_visual_features,
    sync_audio_items,
    weights_fingerprint,
    write_clips,
)
from foleyzoo.errors import ConfigError

GOLDEN = Path(__file__).parent / "data" / "avbench_synchformer.safetensors"
TOLERANCE = 1e-4  # relative max-abs error
PATCH = (slice(None), slice(None), slice(104, 112), slice(104, 112))


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    theirs = theirs.double()
    return float((ours.double() - theirs).abs().max() / theirs.abs().max())


@pytest.mark.slow
def test_desync_equals_avbench(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    with safe_open(str(GOLDEN), "pt") as stored:
        golden = {key: stored.get_tensor(key) for key in stored.keys()}  # noqa: SIM118
        meta = stored.metadata()
    assert json.loads(meta["clips"]) == [vars(clip) for clip in AUDIO_CLIPS], (
        "the clips changed since recording"
    )
    state = random_synchformer_state(int(meta["weights_seed"]))
    assert weights_fingerprint(state) == pytest.approx(float(meta["weights_fingerprint"]), rel=1e-9)
    weights = tmp_path / "synchformer_state_dict.pth"
    torch.save(state, weights)
    del state
    model = SynchformerDeSync(str(weights))
    paths = write_clips(tmp_path / "audio", int(meta["inputs_seed"]))
    stems = [path.stem for path in paths]
    kept = int(meta["kept_channels"])
    for tag in ("short", "full"):
        items = sync_audio_items(paths, float(meta[f"{tag}_duration"]))
        assert [name for name, _ in items] == json.loads(meta[f"{tag}_items"])
        pairs = json.loads(meta[f"{tag}_pairs"])
        waves = dict(items)
        audio = model.audio_features(torch.stack([waves[name] for name in pairs]))
        error = relative(audio[..., :kept], golden[f"{tag}_audio_features"])
        assert error <= TOLERANCE, f"{tag} audio features: relative max-abs error {error:.3e}"
        visual_all = parity_visual_features(len(paths), audio.shape[1], int(meta["inputs_seed"]))
        visual = visual_all[[stems.index(name) for name in pairs]]
        logits = torch.stack(
            [
                model.offset_logits(visual[:, :14], audio[:, :14]),
                model.offset_logits(visual[:, -14:], audio[:, -14:]),
            ],
            dim=1,
        )
        error = relative(logits, golden[f"{tag}_logits"])
        assert error <= TOLERANCE, f"{tag} offset logits: relative max-abs error {error:.3e}"
        offsets = model.desync(visual, audio)
        assert torch.equal(offsets, golden[f"{tag}_offsets"])
        assert desync_score(offsets) == pytest.approx(float(meta[f"{tag}_desync"]), rel=1e-6)
    # the Embedder path (its own mono mix, resampling and cut) on the 10 s 48 kHz file
    samples, rate = soundfile.read(str(paths[3]), dtype="float32", always_2d=True)
    waveform = Waveform(samples=torch.from_numpy(samples.T)[None], sample_rate=rate)
    embedded = model.embed(waveform).values.unflatten(1, (24, 6, 768))
    error = relative(embedded[..., :kept], golden["full_audio_features"])
    assert error <= TOLERANCE, f"embed(Waveform): relative max-abs error {error:.3e}"
    short, rate = soundfile.read(str(paths[1]), dtype="float32", always_2d=True)
    with pytest.raises(ValueError, match="shorter clips out"):
        model.embed(Waveform(samples=torch.from_numpy(short.T)[None], sample_rate=rate))
    frames = [preprocess_sync_frames(parity_frames(i, int(meta["inputs_seed"]))) for i in (0, 1)]
    for index, clip in enumerate(frames):
        # torch's 8-bit bicubic resize rounds a few ties differently across releases (torch 2.14 vs the
        # recording's 2.9: 9 of 4.8 M pixels by one level, 2/255 after normalisation): allow a dozen such
        assert (clip.double().sum(dim=(2, 3)) - golden[f"video{index}_sums"]).abs().max() <= 12 * 2 / 255
        assert (clip[PATCH] - golden[f"video{index}_patch"]).abs().max() <= 2 / 255 + 1e-6
    error = relative(model.video_features(frames[0][None]), golden["video_features"])
    assert error <= TOLERANCE, f"visual features: relative max-abs error {error:.3e}"


def test_manifest_matches_the_network() -> None:
    shapes = {key: list(value.shape) for key, value in SynchformerNetwork().state_dict().items()}
    assert shapes == SynchformerDeSync.official_shapes()
    assert len(shapes) == 513 and shapes["transformer.pos_emb_cfg.pos_emb"] == [1, 198, 768]
    assert shapes["afeat_extractor.ast.embeddings.position_embeddings"] == [1, 74, 768]


def test_missing_file_names_it_and_where_it_is_published(tmp_path: Path) -> None:
    missing = tmp_path / "synchformer_state_dict.pth"
    with pytest.raises(ConfigError) as error:
        SynchformerDeSync(str(missing))
    assert str(missing) in str(error.value) and SynchformerDeSync.weights_url in str(error.value)


def test_file_of_another_model_is_refused_naming_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2), "vproj.weight": torch.zeros(768, 768)}, path)
    with pytest.raises(ConfigError) as error:
        SynchformerDeSync(str(path))
    message = str(error.value)
    assert str(path) in message and "fc.weight" in message and "missing" in message


def test_offset_grid_is_avbenchs_class_grid() -> None:
    grid = offset_grid()
    assert grid.dtype == torch.float32 and grid.shape == (21,)
    assert grid[0] == -2.0 and grid[-1] == 2.0 and grid[10] == 0.0
    assert desync_score(torch.tensor([[grid[1], grid[19]], [grid[10], grid[12]]])) == pytest.approx(
        1.0, rel=1e-6
    )
