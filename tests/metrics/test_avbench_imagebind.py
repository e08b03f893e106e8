"""foleyzoo's ImageBind embedders equal av-benchmark's IB-score features: outputs recorded once, compared here.

The golden (tests/metrics/data/avbench_imagebind.safetensors, written by ``scripts/compare_avbench_imagebind.py
record``) holds what av-benchmark's code gave with the full-size ImageBind-huge towers on seeded random
weights: the embeddings of four wav files (16 / 44.1 / 48 kHz, mono and stereo, DC offsets, 1.5 to 10 s) and
of three 4 s videos given as 0.5 fps frames (landscape, portrait, odd size: 3 crops × 1 clip each).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.api import Waveform
from foleyzoo.data.audio import resample
from foleyzoo.embedders.imagebind import (
    ImageBindAudio,
    ImageBindTowers,
    ImageBindVideo,
    official_shapes,
    parity_state,
)
from foleyzoo.embedders.imagebind.audio_features import clip_bounds
from foleyzoo.embedders.imagebind.frames import crop_offsets
from foleyzoo.embedders.imagebind.parity import (
    AUDIO_CLIPS,
    VIDEO_CLIPS,
    clip_frames,
    fingerprint,
    specs_json,
    write_wav,
)
from foleyzoo.embedders.imagebind.weights import WEIGHTS_URL, check_layout, tower_keys
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.testing import relative_error

GOLDEN = Path(__file__).parent / "data" / "avbench_imagebind.safetensors"
TOLERANCE = 1e-4  # relative max-abs error in fp32


def _golden() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(GOLDEN), "pt") as stored:
        names = stored.keys()  # a safe_open handle is no dict
        return {key: stored.get_tensor(key) for key in names}, stored.metadata()


def _load_wav(path: Path) -> Waveform:
    """The file as av-benchmark's ImageBind dataset reads it: every channel, resampled to 16 kHz, full length."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    samples = resample(torch.from_numpy(data.T.copy()), rate, 16000)
    return Waveform(samples=samples[None], sample_rate=16000)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded random vision and audio weights in the released container (a flat torch.save state dict)."""
    _, metadata = _golden()
    state = parity_state(int(metadata["weights_seed"]))
    assert fingerprint(state) == pytest.approx(float(metadata["weights_fingerprint"]), rel=1e-9), (
        "the random weights differ from the recording: re-record with scripts/compare_avbench_imagebind.py record"
    )
    path = tmp_path_factory.mktemp("imagebind") / "imagebind_huge.pth"
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_audio_embeddings_equal_av_benchmarks(weights_file: Path, tmp_path: Path) -> None:
    tensors, metadata = _golden()
    assert json.loads(metadata["clips"]) == specs_json(), "the clips changed since recording"
    embedder = ImageBindAudio(str(weights_file))
    with torch.no_grad():
        ours = torch.cat(
            [embedder.embed(_load_wav(write_wav(clip, tmp_path))).values for clip in AUDIO_CLIPS]
        )
    theirs = tensors["audio_embeddings"]
    assert ours.shape == theirs.shape == (len(AUDIO_CLIPS), 1024)
    for index, clip in enumerate(AUDIO_CLIPS):
        error = relative_error(ours[index], theirs[index])
        assert error <= TOLERANCE, f"{clip.name}: relative max-abs error {error:.3e}"


@pytest.mark.slow
def test_video_embeddings_and_ib_score_equal_av_benchmarks(weights_file: Path, tmp_path: Path) -> None:
    """One video here (three ViT-H passes; the portrait one, whose crops run down the frame), all of them in
    ``scripts/compare_avbench_imagebind.py compare``; IB-score from it and the recorded others."""
    tensors, metadata = _golden()
    embedder = ImageBindVideo(str(weights_file))
    index = next(i for i, clip in enumerate(VIDEO_CLIPS) if clip.name == "portrait_4s")
    theirs = tensors["video_embeddings"]
    assert theirs.shape == (len(VIDEO_CLIPS), 1024)
    ours = embedder.embed_frames(clip_frames(VIDEO_CLIPS[index]))
    error = relative_error(ours, theirs[index])
    assert error <= TOLERANCE, f"{VIDEO_CLIPS[index].name}: relative max-abs error {error:.3e}"
    pairs = int(metadata["ib_score_pairs"])
    videos = theirs.clone()
    videos[index] = ours
    audio = tensors["audio_embeddings"][:pairs]  # the audio side is checked by the test above
    score = float(torch.cosine_similarity(videos[:pairs], audio, dim=-1).mean())
    assert score == pytest.approx(float(tensors["ib_score"]), rel=TOLERANCE)


# --------------------------------------------------------------------------- cheap checks


def test_manifest_matches_the_towers_state_dict() -> None:
    with torch.device("meta"):
        towers = ImageBindTowers()
    ours = {key: list(value.shape) for key, value in towers.state_dict().items()}
    assert ours == {key: official_shapes()[key] for key in tower_keys()}
    assert len(official_shapes()) == 1311  # all six modalities of the released file
    assert ImageBindAudio.official_shapes() == official_shapes()


def test_missing_file_names_it_and_where_it_is_published(tmp_path: Path) -> None:
    missing = tmp_path / "imagebind_huge.pth"
    with pytest.raises(ConfigError) as caught:
        ImageBindAudio(str(missing))
    assert str(missing) in str(caught.value) and WEIGHTS_URL in str(caught.value)


def test_another_models_file_is_refused_naming_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"encoder.layer.0.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ConfigError) as caught:
        ImageBindVideo(str(path))
    message = str(caught.value)
    assert str(path) in message and "encoder.layer.0.weight" in message and "missing" in message


def test_other_modalities_are_shape_checked_too(tmp_path: Path) -> None:
    """A text key of the wrong shape is refused even though the text tower is never built."""
    shapes = official_shapes()
    state = {key: torch.empty(shapes[key], device="meta") for key in tower_keys(("audio",))}
    state["modality_preprocessors.text.pos_embed"] = torch.empty(1, 76, 1024, device="meta")
    with pytest.raises(ConfigError, match=r"missing modality_\w+\.vision"):
        check_layout(state, tmp_path / "x.pth")
    with pytest.raises(ConfigError, match=r"text\.pos_embed \(1, 76, 1024\)"):
        check_layout(
            {**state, **{k: torch.empty(shapes[k], device="meta") for k in tower_keys(("vision",))}}, "x"
        )


def test_clip_bounds_follow_the_constant_clips_sampler() -> None:
    assert clip_bounds(16000 * 10) == [(0, 32000), (64000, 96000), (128000, 160000)]
    assert clip_bounds(16000 * 7 + 1) == [(0, 32000), (40000, 72000), (80001, 112001)]
    assert clip_bounds(8000) == [(0, 32000)] * 3


def test_three_crops_run_along_the_longer_side() -> None:
    assert crop_offsets(224, 298) == [(0, 0), (0, 37), (0, 74)]
    assert crop_offsets(299, 224) == [(0, 0), (38, 0), (75, 0)]
    assert crop_offsets(224, 224) == [(0, 0)] * 3


def test_video_embed_takes_frames_every_two_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from foleyzoo.api import Video

    seen: list[torch.Tensor] = []
    embedder = ImageBindVideo.__new__(ImageBindVideo)
    torch.nn.Module.__init__(embedder)
    monkeypatch.setattr(embedder, "embed_frames", lambda frames: seen.append(frames) or torch.zeros(1024))
    frames = torch.arange(8, dtype=torch.float32).div(255).view(1, 8, 1, 1, 1).expand(1, 8, 3, 2, 2)
    embedding = embedder.embed(Video(frames=frames.contiguous(), fps=1.0))
    assert embedding.values.shape == (1, 1024)
    assert seen[0].shape == (4, 2, 2, 3) and seen[0][:, 0, 0, 0].tolist() == [0, 2, 4, 6]
