"""Compare foleyzoo's ImageBind embedders with av-benchmark's IB-score code path, record the test golden,
write the manifest of ``imagebind_huge.pth``'s keys and shapes.

Runs in an environment with av-benchmark (https://github.com/hkchengrex/av-benchmark, on ``PYTHONPATH`` or
installed), its ImageBind fork (``pip install --no-deps -e`` a clone of https://github.com/hkchengrex/ImageBind)
and pytorchvideo at the commit that fork pins, plus foleyzoo's ``src`` on ``PYTHONPATH``; not run in CI.
Both sides load the same seeded random weights (:func:`foleyzoo.embedders.imagebind.parity_state`, written
as a flat ``torch.save`` state dict like the released file); no released weights are needed.

    python scripts/compare_avbench_imagebind.py compare   # relative errors, also on an 8 s video (4 frames)
    python scripts/compare_avbench_imagebind.py record    # rewrite tests/metrics/data/avbench_imagebind.safetensors
    python scripts/compare_avbench_imagebind.py manifest  # rewrite src/foleyzoo/embedders/manifests/imagebind.json

av-benchmark's side: its ``ImageBindAudioDataset`` reads the wav files written here (torchaudio) and its
extraction feeds ``imagebind_huge`` batches as ``av_bench/extract.py`` does; for video, its
``VideoDataset``'s ImageBind transform and three-crop step run on the frames (its torio decoder is not
used: the frames are given at 0.5 fps already) and ``extract_video.encode_video_with_imagebind`` (not
compiled) embeds them. The original model is ``imagebind_huge(pretrained=False)`` with the temporary file
loaded in place of the download: every vision and audio key must load, only other modalities' keys stay
at their initialisation.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from foleyzoo.embedders.imagebind import ImageBindAudio, ImageBindVideo, parity_state
from foleyzoo.embedders.imagebind.parity import (
    AUDIO_CLIPS,
    FULL_VIDEO,
    INPUTS_SEED,
    VIDEO_CLIPS,
    WEIGHTS_SEED,
    VideoClip,
    clip_frames,
    fingerprint,
    specs_json,
    write_wav,
)
from foleyzoo.embedders.imagebind.weights import WEIGHTS_FILE, WEIGHTS_LICENCE, WEIGHTS_URL
from foleyzoo.zoo.testing import compact_json, git_commit, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "metrics" / "data" / "avbench_imagebind.safetensors"
MANIFEST = REPO_ROOT / "src" / "foleyzoo" / "embedders" / "manifests" / "imagebind.json"
OTHER_MODALITIES = ("text", "depth", "thermal", "imu")


# --------------------------------------------------------------------------- av-benchmark's side


def _import_av_benchmark() -> tuple[Any, Any, Any]:
    """av-benchmark's ImageBindAudioDataset, VideoDataset and encode_video_with_imagebind.

    ``video_dataset`` imports torio's decoder (gone from torchaudio ≥ 2.9) and ``extract_video`` imports
    the Synchformer class (whose AST code needs transformers < 5); neither is used on the ImageBind path,
    so where they fail to import a placeholder module stands in for them.
    """
    try:
        importlib.import_module("torio.io")
    except ImportError:
        torio = types.ModuleType("torio")
        torio.io = types.ModuleType("torio.io")  # type: ignore[attr-defined]
        torio.io.StreamingMediaDecoder = None  # type: ignore[attr-defined]
        sys.modules["torio"], sys.modules["torio.io"] = torio, torio.io  # type: ignore[attr-defined]
    try:
        importlib.import_module("av_bench.synchformer.synchformer")
    except ImportError:
        placeholder = types.ModuleType("av_bench.synchformer.synchformer")
        placeholder.Synchformer = None  # type: ignore[attr-defined]
        sys.modules["av_bench.synchformer.synchformer"] = placeholder
    from av_bench.data.audio_dataset import ImageBindAudioDataset
    from av_bench.data.video_dataset import VideoDataset
    from extract_video import encode_video_with_imagebind

    return ImageBindAudioDataset, VideoDataset, encode_video_with_imagebind


def original_model(weights: Path) -> nn.Module:
    """av-benchmark's ``imagebind_huge`` with ``weights`` loaded instead of the published download."""
    from imagebind.models import imagebind_model

    model = imagebind_model.imagebind_huge(pretrained=False).eval()
    result = model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=False)
    stray = [key for key in result.missing_keys if key.split(".")[1] not in OTHER_MODALITIES]
    if result.unexpected_keys or stray:
        raise RuntimeError(f"the weights do not fit imagebind_huge: {result.unexpected_keys[:5]} {stray[:5]}")
    return model


def original_audio(model: nn.Module, paths: Sequence[Path]) -> Tensor:
    """(files, 1024): av-benchmark's ImageBind audio features, batched as ``av_bench/extract.py`` does."""
    from imagebind.models.imagebind_model import ModalityType
    from torch.utils.data import DataLoader

    dataset_class, _, _ = _import_av_benchmark()
    rows = []
    for wav, _names in DataLoader(dataset_class(list(paths)), batch_size=len(paths), num_workers=0):
        rows.append(model({ModalityType.AUDIO: wav.squeeze(1)})[ModalityType.AUDIO])
    return torch.cat(rows)


def original_video(model: nn.Module, clips: Sequence[VideoClip]) -> Tensor:
    """(videos, 1024): av-benchmark's VideoDataset ImageBind transform and crops, then its encoder."""
    _, dataset_class, encode = _import_av_benchmark()
    dataset = dataset_class([], duration_sec=2.0 * clips[0].frames)
    rows = []
    for clip in clips:  # one a batch: the videos differ in frame count
        frames = clip_frames(clip).permute(0, 3, 1, 2).contiguous()  # torio's (T, C, H, W) uint8
        crops = torch.stack(dataset.crop([dataset.ib_transform(frames)]))  # (3, T, C, 224, 224)
        rows.append(encode(model, crops[None]))
    return torch.cat(rows)


def original_shapes() -> dict[str, list[int]]:
    from imagebind.models import imagebind_model

    model = imagebind_model.imagebind_huge(pretrained=False)
    return {key: list(value.shape) for key, value in model.state_dict().items()}


def imagebind_commit() -> str:
    return git_commit("imagebind")


# --------------------------------------------------------------------------- foleyzoo's side


def ours_audio(weights: Path, paths: Sequence[Path]) -> Tensor:
    """foleyzoo's embeddings of the files, each read with all its channels and resampled to 16 kHz."""
    import soundfile

    from foleyzoo.api import Waveform
    from foleyzoo.data.audio import resample

    embedder = ImageBindAudio(str(weights))
    rows = []
    for path in paths:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        samples = resample(torch.from_numpy(data.T.copy()), rate, 16000)
        rows.append(embedder.embed(Waveform(samples=samples[None], sample_rate=16000)).values)
    return torch.cat(rows)


def ours_video(weights: Path, clips: Sequence[VideoClip]) -> Tensor:
    embedder = ImageBindVideo(str(weights))
    return torch.stack([embedder.embed_frames(clip_frames(clip)) for clip in clips])


# --------------------------------------------------------------------------- commands


def _weights_file(folder: Path, state: Mapping[str, Tensor]) -> Path:
    path = folder / WEIGHTS_FILE
    torch.save(dict(state), path)
    return path


def _run_both(folder: Path, videos: Sequence[VideoClip], ours: bool) -> dict[str, Tensor]:
    state = parity_state(WEIGHTS_SEED)
    weights = _weights_file(folder, state)
    paths = [write_wav(clip, folder) for clip in AUDIO_CLIPS]
    outputs: dict[str, Tensor] = {}
    start = time.perf_counter()
    model = original_model(weights)
    outputs["audio"] = original_audio(model, paths)
    outputs["video"] = original_video(model, videos)
    print(f"av-benchmark: {time.perf_counter() - start:.0f} s")
    del model
    if ours:
        start = time.perf_counter()
        outputs["ours_audio"] = ours_audio(weights, paths)
        outputs["ours_video"] = ours_video(weights, videos)
        print(f"foleyzoo: {time.perf_counter() - start:.0f} s")
    outputs["fingerprint"] = torch.tensor(fingerprint(state), dtype=torch.float64)
    return outputs


def ib_score(video: Tensor, audio: Tensor) -> float:
    """av-benchmark's IB-score of paired rows: the mean cosine similarity."""
    return float(torch.cosine_similarity(video, audio, dim=-1).mean())


def command_compare(args: argparse.Namespace) -> int:
    videos = [*VIDEO_CLIPS, *([] if args.quick else [FULL_VIDEO])]
    with tempfile.TemporaryDirectory() as folder:
        out = _run_both(Path(folder), videos, ours=True)
    for name, theirs, mine in (
        ("audio", out["audio"], out["ours_audio"]),
        ("video", out["video"], out["ours_video"]),
    ):
        errors = [relative_error(mine[i], theirs[i]) for i in range(theirs.shape[0])]
        print(
            f"{name}: {tuple(theirs.shape)}, relative max-abs error per clip "
            + ", ".join(f"{e:.2e}" for e in errors)
        )
    pairs = min(out["audio"].shape[0], out["video"].shape[0])
    theirs_score = ib_score(out["video"][:pairs], out["audio"][:pairs])
    mine_score = ib_score(out["ours_video"][:pairs], out["ours_audio"][:pairs])
    print(
        f"IB-score of {pairs} pairs: av-benchmark {theirs_score:.8f}, foleyzoo {mine_score:.8f}, "
        f"relative difference {abs(mine_score - theirs_score) / abs(theirs_score):.2e}"
    )
    return 0


def command_record(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = _run_both(Path(folder), VIDEO_CLIPS, ours=False)
    pairs = min(len(AUDIO_CLIPS), len(VIDEO_CLIPS))
    metadata = {
        "weights_seed": str(WEIGHTS_SEED),
        "weights_fingerprint": repr(float(out["fingerprint"])),
        "inputs_seed": str(INPUTS_SEED),
        "clips": json.dumps(specs_json()),
        "ib_score_pairs": str(pairs),
        "recorded_with": (
            f"hkchengrex/av-benchmark, hkchengrex/ImageBind {imagebind_commit()}, torch {torch.__version__}"
        ),
    }
    tensors = {
        "audio_embeddings": out["audio"].contiguous(),
        "video_embeddings": out["video"].contiguous(),
        "ib_score": torch.tensor([ib_score(out["video"][:pairs], out["audio"][:pairs])], dtype=torch.float64),
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(GOLDEN), metadata)
    print(
        f"wrote {GOLDEN.relative_to(REPO_ROOT)} ({GOLDEN.stat().st_size} bytes), IB-score {float(tensors['ib_score']):.6f}"
    )
    return 0


def command_manifest(args: argparse.Namespace) -> int:
    keys = original_shapes()
    manifest = {
        "format": 1,
        "sources": {
            "keys": (
                "state_dict() of imagebind_huge() from https://github.com/hkchengrex/ImageBind "
                f"({imagebind_commit()}), av-benchmark's pinned fork, whose pretrained loader reads the released file into this module"
            ),
            "towers_used": "vision and audio (av-benchmark's IB-score); text, depth, thermal, imu are ignored",
            "sha256": "not published next to the file",
        },
        "files": {
            "imagebind_huge": {
                "file": WEIGHTS_FILE,
                "url": WEIGHTS_URL,
                "licence": WEIGHTS_LICENCE,
                "sha256": None,
                "keys": keys,
            }
        },
    }
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(compact_json(manifest) + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)}: {len(keys)} keys")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="relative errors against av-benchmark's code")
    compare.add_argument(
        "--quick", action="store_true", help="skip the 8 s video (9 more ViT-H passes a side)"
    )
    commands.add_parser("record", help="rewrite the golden the tests compare with")
    commands.add_parser("manifest", help="rewrite the manifest's keys and shapes from the original model")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with torch.no_grad():
        return {"compare": command_compare, "record": command_record, "manifest": command_manifest}[
            args.command
        ](args)


if __name__ == "__main__":
    sys.exit(main())
