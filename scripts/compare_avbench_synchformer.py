"""Compare foleyzoo's SynchformerDeSync with av-benchmark's own Synchformer code; record the test golden;
write the key/shape manifest of ``synchformer_state_dict.pth``.

Runs where av-benchmark (https://github.com/hkchengrex/av-benchmark) is importable, with foleyzoo on
``PYTHONPATH``; not run in CI. Both sides load the same seeded random weights, written to a temporary
file in the published container (a flat ``torch.save`` state dict) that av-benchmark's ``Synchformer``
loads strictly as it loads the real file; no published weights are needed. av-benchmark's side runs its
``SynchformerAudioDataset`` on wav files written to a temporary folder, its ``encode_audio_with_sync``,
its ``VideoDataset.sync_transform`` and ``extract_video.encode_video_with_sync`` (without
``torch.compile``), its ``unroll_paired_dict`` and ``make_class_grid``, and the DeSync loop of its
``evaluate`` (the first and the last 14 segments, argmax, mean |offset|).

    python scripts/compare_avbench_synchformer.py compare [--video-frames 24]
    python scripts/compare_avbench_synchformer.py record     # rewrite tests/metrics/data/avbench_synchformer.safetensors
    python scripts/compare_avbench_synchformer.py manifest   # rewrite src/foleyzoo/embedders/manifests/synchformer.json

Imports that would reach the network or need packages DeSync does not use are stood in for before
av-benchmark is imported (its extraction-model bundle, ``torio``'s decoder, and functions newer
``transformers`` releases dropped: pruning functions never called, docstring decorators, and
``get_head_mask``, which without a head mask gives one None a layer); nothing on DeSync's path is replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from foleyzoo.embedders.synchformer import SynchformerDeSync, preprocess_sync_frames, random_synchformer_state
from foleyzoo.embedders.synchformer.parity import (
    AUDIO_CLIPS,
    FULL_DURATION,
    INPUTS_SEED,
    SHORT_DURATION,
    WEIGHTS_SEED,
    parity_frames,
    parity_visual_features,
    sync_audio_items,
    weights_fingerprint,
    write_clips,
)
from foleyzoo.zoo.testing import relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "metrics" / "data" / "avbench_synchformer.safetensors"
MANIFEST = REPO_ROOT / "src" / "foleyzoo" / "embedders" / "manifests" / "synchformer.json"
KEPT_CHANNELS = 64
"""Audio features are recorded on their first 64 channels (all 768 reach the logits, which are recorded)."""
PATCH = (slice(None), slice(None), slice(104, 112), slice(104, 112))


def import_avbench(root: str | None) -> types.SimpleNamespace:
    """av-benchmark's modules used here (see the module docstring for what is stood in for)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if root:
        sys.path.insert(0, root)
    import transformers.pytorch_utils as pytorch_utils
    import transformers.utils as hf_utils

    for name in ("find_pruneable_heads_and_indices", "prune_linear_layer"):
        if not hasattr(pytorch_utils, name):
            setattr(pytorch_utils, name, lambda *args, **kwargs: None)
    for name in (
        "add_code_sample_docstrings",
        "add_start_docstrings",
        "add_start_docstrings_to_model_forward",
    ):
        if not hasattr(hf_utils, name):
            setattr(hf_utils, name, lambda *args, **kwargs: lambda function: function)
    bundle = types.ModuleType("av_bench.extraction_models")
    bundle.ExtractionModels = None  # type: ignore[attr-defined]
    sys.modules.setdefault("av_bench.extraction_models", bundle)
    try:
        import torio.io
    except ImportError:
        torio, torio_io = types.ModuleType("torio"), types.ModuleType("torio.io")
        torio_io.StreamingMediaDecoder = None  # type: ignore[attr-defined]
        torio.io = torio_io  # type: ignore[attr-defined]
        sys.modules.update({"torio": torio, "torio.io": torio_io})
    import extract_video
    from av_bench import utils
    from av_bench.data import audio_dataset, video_dataset
    from av_bench.extract import encode_audio_with_sync
    from av_bench.synchformer import synchformer
    from av_bench.synchformer.hf_src import modeling_ast

    if not hasattr(modeling_ast.ASTModel, "get_head_mask"):  # transformers 5 dropped it; no head mask here
        modeling_ast.ASTModel.get_head_mask = no_head_mask

    return types.SimpleNamespace(
        Synchformer=synchformer.Synchformer,
        make_class_grid=synchformer.make_class_grid,
        SynchformerAudioDataset=audio_dataset.SynchformerAudioDataset,
        VideoDataset=video_dataset.VideoDataset,
        encode_audio_with_sync=encode_audio_with_sync,
        encode_video_with_sync=extract_video.encode_video_with_sync,
        unroll_paired_dict=utils.unroll_paired_dict,
    )


def no_head_mask(self: Any, head_mask: Any, layers: int, *args: Any) -> list[None]:
    """What ``PreTrainedModel.get_head_mask`` of transformers 4 returns without a head mask: one None a layer."""
    if head_mask is not None:
        raise NotImplementedError("head masks are not used on DeSync's path")
    return [None] * layers


def sync_mel() -> Any:
    """The mel front-end av-benchmark's ``ExtractionModels`` builds for Synchformer (its arguments)."""
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, win_length=400, hop_length=160, n_fft=1024, n_mels=128
    )


def avbench_model(avb: types.SimpleNamespace, weights: Path) -> Any:
    """``Synchformer()`` loaded as ``ExtractionModels`` / ``evaluate`` load the published file."""
    model = avb.Synchformer().eval()
    model.load_state_dict(torch.load(weights, weights_only=True))
    return model


def avbench_desync(avb: types.SimpleNamespace, model: Any, video: dict, audio: dict) -> dict[str, Any]:
    """Pairs as ``evaluate`` forms them, then its DeSync loop: logits of both windows, |offset|, mean."""
    visual, aural, unpaired = avb.unroll_paired_dict(video, audio)
    grid = avb.make_class_grid(-2, 2, 21)
    first = model.compare_v_a(visual[:, :14], aural[:, :14])
    last = model.compare_v_a(visual[:, -14:], aural[:, -14:])
    scores = [abs(grid[i].item()) for i in first.argmax(-1)] + [abs(grid[i].item()) for i in last.argmax(-1)]
    return {
        "logits": torch.stack([first, last], dim=1),
        "offsets": torch.stack([grid[first.argmax(-1)], grid[last.argmax(-1)]], dim=1),
        "desync": float(np.mean(scores)),
        "unpaired": sorted(unpaired),
    }


def run_avbench(avb: types.SimpleNamespace, folder: Path, weights: Path, video_frames: int) -> dict[str, Any]:
    """Every recorded quantity, computed by av-benchmark's code."""
    model, mel = avbench_model(avb, weights), sync_mel()
    paths = write_clips(folder / "audio")
    out: dict[str, Any] = {}
    for tag, duration in (("short", SHORT_DURATION), ("full", FULL_DURATION)):
        dataset = avb.SynchformerAudioDataset(paths, duration=duration)
        items = [dataset[i] for i in range(len(dataset))]
        names = [name for _, name in items]
        features = avb.encode_audio_with_sync(model, torch.stack([wav for wav, _ in items]), mel)
        audio = {name: features[i] for i, name in enumerate(names)}  # later items overwrite, as extract()
        segments = features.shape[1]
        visual = parity_visual_features(len(paths), segments)
        video = {path.stem: visual[i] for i, path in enumerate(paths)}
        out[tag] = {
            "names": names,
            "features": features,
            "audio": audio,
            **avbench_desync(avb, model, video, audio),
        }
    transform = avb.VideoDataset([], duration_sec=FULL_DURATION).sync_transform
    frames = [transform(parity_frames(0)), transform(parity_frames(1))]
    if video_frames != frames[0].shape[0]:
        frames[0] = transform(long_frames(video_frames))
    out["video_frames"] = frames
    out["video_features"] = avb.encode_video_with_sync(model, frames[0][None])
    if out["video_features"].shape[1] >= 14:  # end to end: this video against the first clip's audio
        out["video_logits"] = model.compare_v_a(
            out["video_features"][:, :14], out["short"]["features"][:1, :14]
        )
    return out


def long_frames(count: int) -> torch.Tensor:
    """A longer landscape clip for ``compare --video-frames``: the golden clip's frames repeated."""
    base = parity_frames(0)
    return base[torch.arange(count) % base.shape[0]]


def run_foleyzoo(folder: Path, weights: Path, video_frames: int) -> dict[str, Any]:
    """The same quantities computed by foleyzoo (audio read by the local loader of ``parity``)."""
    model = SynchformerDeSync(str(weights))
    paths = sorted((folder / "audio").glob("*.wav"), key=lambda p: p.stem)
    out: dict[str, Any] = {}
    for tag, duration in (("short", SHORT_DURATION), ("full", FULL_DURATION)):
        items = sync_audio_items(paths, duration)
        features = model.audio_features(torch.stack([wave for _, wave in items]))
        names = [name for name, _ in items]
        audio = {name: features[i] for i, name in enumerate(names)}
        visual = parity_visual_features(len(paths), features.shape[1])
        stems = [path.stem for path in paths]
        keys = sorted(audio, key=names.index)
        v = torch.stack([visual[stems.index(key)] for key in keys])
        a = torch.stack([audio[key] for key in keys])
        offsets = model.desync(v, a)
        logits = torch.stack(
            [model.offset_logits(v[:, :14], a[:, :14]), model.offset_logits(v[:, -14:], a[:, -14:])], dim=1
        )
        out[tag] = {"names": names, "features": features, "logits": logits, "offsets": offsets}
    clip = parity_frames(0) if video_frames == parity_frames(0).shape[0] else long_frames(video_frames)
    frames = [preprocess_sync_frames(clip), preprocess_sync_frames(parity_frames(1))]
    out["video_frames"] = frames
    out["video_features"] = model.video_features(frames[0][None])
    if out["video_features"].shape[1] >= 14:
        out["video_logits"] = model.offset_logits(
            out["video_features"][:, :14], out["short"]["features"][:1, :14]
        )
    return out


def write_weights(folder: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    state = random_synchformer_state(WEIGHTS_SEED)
    path = folder / "synchformer_state_dict.pth"
    torch.save(state, path)
    return path, state


def command_compare(args: argparse.Namespace) -> int:
    avb = import_avbench(args.avbench)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights, _ = write_weights(folder)
        start = time.perf_counter()
        theirs = run_avbench(avb, folder, weights, args.video_frames)
        middle = time.perf_counter()
        ours = run_foleyzoo(folder, weights, args.video_frames)
        print(f"av-benchmark {middle - start:.0f} s, foleyzoo {time.perf_counter() - middle:.0f} s")
    for tag in ("short", "full"):
        t, o = theirs[tag], ours[tag]
        print(f"[{tag}] items {t['names']} (foleyzoo {o['names']}); unpaired {t['unpaired']}")
        print(
            f"  audio features {tuple(t['features'].shape)}: {relative_error(o['features'], t['features']):.3e}"
        )
        print(f"  logits {tuple(t['logits'].shape)}: {relative_error(o['logits'], t['logits']):.3e}")
        same = torch.equal(o["offsets"], t["offsets"])
        mine = float(o["offsets"].double().abs().mean())
        print(f"  offsets equal {same}; DeSync av-benchmark {t['desync']!r}, foleyzoo {mine!r}")
    for index, (o, t) in enumerate(zip(ours["video_frames"], theirs["video_frames"], strict=True)):
        print(f"video {index} preprocessed {tuple(t.shape)}: max |diff| {float((o - t).abs().max()):.3e}")
    t, o = theirs["video_features"], ours["video_features"]
    print(f"video features {tuple(t.shape)}: {relative_error(o, t):.3e}")
    if "video_logits" in theirs:
        t, o = theirs["video_logits"], ours["video_logits"]
        same = torch.equal(t.argmax(-1), o.argmax(-1))
        print(f"video → offset logits with clip a's audio: {relative_error(o, t):.3e}, argmax equal {same}")
    return 0


def command_record(args: argparse.Namespace) -> int:
    avb = import_avbench(args.avbench)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights, state = write_weights(folder)
        theirs = run_avbench(avb, folder, weights, parity_frames(0).shape[0])
    tensors = {
        "video_features": theirs["video_features"],
        "video0_sums": theirs["video_frames"][0].double().sum(dim=(2, 3)),
        "video0_patch": theirs["video_frames"][0][PATCH],
        "video1_sums": theirs["video_frames"][1].double().sum(dim=(2, 3)),
        "video1_patch": theirs["video_frames"][1][PATCH],
    }
    metadata = {
        "weights_seed": str(WEIGHTS_SEED),
        "weights_fingerprint": repr(weights_fingerprint(state)),
        "inputs_seed": str(INPUTS_SEED),
        "clips": json.dumps([vars(clip) for clip in AUDIO_CLIPS]),
        "kept_channels": str(KEPT_CHANNELS),
        "recorded_with": f"hkchengrex/av-benchmark {args.commit}, torch {torch.__version__}",
    }
    for tag, duration in (("short", SHORT_DURATION), ("full", FULL_DURATION)):
        result = theirs[tag]
        unique = sorted(set(result["names"]), key=result["names"].index)
        features = torch.stack([result["audio"][name] for name in unique])
        tensors[f"{tag}_audio_features"] = features[..., :KEPT_CHANNELS]
        tensors[f"{tag}_logits"] = result["logits"]
        tensors[f"{tag}_offsets"] = result["offsets"]
        metadata[f"{tag}_duration"] = repr(duration)
        metadata[f"{tag}_items"] = json.dumps(result["names"])
        metadata[f"{tag}_pairs"] = json.dumps(unique)
        metadata[f"{tag}_unpaired"] = json.dumps(result["unpaired"])
        metadata[f"{tag}_desync"] = repr(result["desync"])
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(GOLDEN), metadata)
    print(f"wrote {GOLDEN.relative_to(REPO_ROOT)} ({GOLDEN.stat().st_size} bytes)")
    for key in (
        "short_items",
        "short_unpaired",
        "short_desync",
        "full_items",
        "full_unpaired",
        "full_desync",
    ):
        print(f"  {key}: {metadata[key]}")
    return 0


def command_manifest(args: argparse.Namespace) -> int:
    avb = import_avbench(args.avbench)
    keys = {key: list(value.shape) for key, value in avb.Synchformer().state_dict().items()}
    manifest = {
        "format": 1,
        "file": SynchformerDeSync.weights_file,
        "url": SynchformerDeSync.weights_url,
        "licence": SynchformerDeSync.weights_licence,
        "sha256": SynchformerDeSync.published_sha256,
        "md5": SynchformerDeSync.published_md5,
        "sources": {
            "keys": f"hkchengrex/av-benchmark {args.commit}: av_bench.synchformer.synchformer.Synchformer().state_dict()",
            "md5": "MMAudio's mmaudio/utils/download_utils.py (the GitHub release publishes no SHA-256)",
            "sha256": (
                "the Git LFS pointer of ext_weights/synchformer_state_dict.pth in the Hugging Face repository "
                "hkchengrex/MMAudio (950 MB), taken to be the GitHub release's file (907 MiB)"
            ),
        },
        "keys": keys,
    }
    text = json.dumps(manifest, indent=1)
    text = re.sub(r"\[\s+([\d,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(text + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)}: {len(keys)} keys")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--avbench", default=None, help="av-benchmark's work tree, if not importable already")
    parser.add_argument("--commit", default="unknown commit", help="av-benchmark's commit, for the records")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="print foleyzoo's errors against av-benchmark's code")
    compare.add_argument(
        "--video-frames", type=int, default=24, help="frames of the landscape clip (120: 14 segments, slow)"
    )
    commands.add_parser("record", help="rewrite the golden the tests compare with")
    commands.add_parser("manifest", help="rewrite the manifest's keys and shapes from av-benchmark's code")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    with torch.inference_mode():
        return {"compare": command_compare, "record": command_record, "manifest": command_manifest}[
            args.command
        ](args)


if __name__ == "__main__":
    sys.exit(main())
