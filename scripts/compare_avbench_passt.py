"""Compare foleyzoo's PaSST with av-benchmark's own PaSST path, record the test golden, write the key manifest.

Runs where av-benchmark and its PaSST fork are importable (not in CI): e.g. a virtual environment with
torch/torchaudio, ``pip install --no-deps -e`` of a clone of https://github.com/hkchengrex/passt_hear21
(and ``timm``), and ``PYTHONPATH=<clone of hkchengrex/av-benchmark>:<foleyzoo>/src``. No published weights
are needed: both sides load the same seeded random weights
(:func:`foleyzoo.embedders.passt.passt_random_state`), written as a torch file in the published file's
layout (a flat state dict of the network), which the original loads strictly through its own
pretrained-loading code in place of the download. The original side is av-benchmark's: its
``AudioDataset`` (32 kHz, 8 s) reads the synthetic wav files through a ``DataLoader``, each batch is cut
or zero-padded to 320000 samples and goes through ``hear21passt.base.get_basic_model(mode="all")``,
whose output is split into logits (first 527) and embedding (the rest), as ``av_bench/extract.py`` does.

    python scripts/compare_avbench_passt.py compare    # relative errors, foleyzoo vs av-benchmark
    python scripts/compare_avbench_passt.py record     # rewrite tests/metrics/data/avbench_passt.safetensors
    python scripts/compare_avbench_passt.py manifest   # rewrite src/foleyzoo/embedders/manifests/passt.json

The relative error is max|foleyzoo − original| / max|original| over all clips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from foleyzoo.api import Waveform
from foleyzoo.embedders.passt import MANIFEST_PATH, PaSST, passt_random_state
from foleyzoo.embedders.passt.parity import CLIPS, EVAL_SECONDS, load_like_avbench, write_clips
from foleyzoo.zoo.testing import compact_json, git_commit, relative_error

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "metrics" / "data" / "avbench_passt.safetensors"
WEIGHTS_SEED, CLIPS_SEED = 29, 476
ARCH = "passt_s_swa_p16_128_ap476"
SIZE_BYTES = 344_665_734
SOURCES = {
    "code": (
        "https://github.com/hkchengrex/passt_hear21 (hear21passt/base.py get_basic_model, models/passt.py, "
        "models/preprocess.py, wrapper.py), as av-benchmark's av_bench/extraction_models.py builds it"
    ),
    "url": "hear21passt/models/passt.py default_cfgs['passt_s_swa_p16_128_ap476']",
    "sha256": (
        "not published by the authors; the value several independent projects pin for this release asset "
        "(with its size, 344665734 bytes)"
    ),
    "keys": (
        "the PaSST network's state_dict (the published file is a flat state dict that hear21passt's "
        "load_pretrained loads strictly into it). The HEAR wrapper get_basic_model returns adds only "
        "'device_proxy' (a placeholder zeros(1) parameter, never in the published file); its mel front "
        "end holds no persistent state (window and pre-emphasis kernel are non-persistent buffers, the "
        "mel banks are recomputed on each call)"
    ),
}


# --------------------------------------------------------------------------- the original's side


def original_model(weights: Path) -> nn.Module:
    """``get_basic_model(mode="all")`` as av-benchmark calls it, its download replaced by ``weights``."""
    import hear21passt.models.helpers.vit_helpers as helpers
    from hear21passt.base import get_basic_model

    def local_file(url: str, **_: Any) -> str:
        if not url.endswith(PaSST.weights_file):
            raise RuntimeError(f"unexpected download {url}")
        return str(weights)

    helpers.download_cached_file = local_file
    return get_basic_model(mode="all").eval()


def original_outputs(model: nn.Module, paths: list[Path]) -> tuple[Tensor, Tensor, list[int]]:
    """(embeddings, logits, loaded lengths) from av-benchmark's dataset and its PaSST step, clip by clip.

    One clip a batch: av-benchmark's default collate cannot stack clips of different lengths (files
    shorter than 8 s), so a batch of mixed lengths would fail there.
    """
    from av_bench.data.audio_dataset import AudioDataset
    from torch.utils.data import DataLoader

    loader = DataLoader(AudioDataset(paths, audio_length=EVAL_SECONDS, sr=32000), batch_size=1)
    embeddings, logits, lengths = [], [], []
    for wav, _ in loader:
        wav = wav.squeeze(1).float()
        lengths.append(wav.shape[-1])
        window = 320000
        wav = (
            wav[..., :window]
            if wav.shape[-1] >= window
            else nn.functional.pad(wav, (0, window - wav.shape[-1]))
        )
        output = model(wav)
        logits.append(output[:, :527])
        embeddings.append(output[:, 527:])
    return torch.cat(embeddings), torch.cat(logits), lengths


def original_loaded(paths: list[Path]) -> list[Tensor]:
    from av_bench.data.audio_dataset import AudioDataset

    dataset = AudioDataset(paths, audio_length=EVAL_SECONDS, sr=32000)
    return [dataset[index][0] for index in range(len(paths))]


# --------------------------------------------------------------------------- foleyzoo's side


def foleyzoo_outputs(weights: Path, paths: list[Path]) -> tuple[Tensor, Tensor]:
    embedder = PaSST(str(weights))
    embeddings, logits = [], []
    for path in paths:
        audio = load_like_avbench(path, PaSST.sample_rate)
        result = embedder.embed(Waveform(audio[None], PaSST.sample_rate))
        embeddings.append(result.values)
        assert result.logits is not None
        logits.append(result.logits)
    return torch.cat(embeddings), torch.cat(logits)


def fingerprint(state: Mapping[str, Tensor]) -> float:
    """Sum of |w| over every tensor in key order: says whether regenerated weights are the recorded ones."""
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


# --------------------------------------------------------------------------- commands


def run_both(folder: Path) -> dict[str, Any]:
    state = passt_random_state(WEIGHTS_SEED)
    weights = folder / PaSST.weights_file
    torch.save(state, weights)
    paths = write_clips(folder / "clips", CLIPS_SEED)
    start = time.perf_counter()
    theirs_embedding, theirs_logits, lengths = original_outputs(original_model(weights), paths)
    middle = time.perf_counter()
    mine_embedding, mine_logits = foleyzoo_outputs(weights, paths)
    end = time.perf_counter()
    print(f"av-benchmark {middle - start:.1f} s, foleyzoo {end - middle:.1f} s for {len(paths)} clips")
    return {
        "state": state,
        "paths": paths,
        "lengths": lengths,
        "theirs": (theirs_embedding, theirs_logits),
        "mine": (mine_embedding, mine_logits),
    }


def command_compare(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as temp:
        runs = run_both(Path(temp))
        for path, loaded in zip(runs["paths"], original_loaded(runs["paths"]), strict=True):
            ours = load_like_avbench(path, PaSST.sample_rate)
            print(
                f"{path.stem}: loaded {tuple(loaded.shape)}, loader rel. error {relative_error(ours, loaded):.2e}"
            )
    (theirs_e, theirs_l), (mine_e, mine_l) = runs["theirs"], runs["mine"]
    for index, spec in enumerate(CLIPS):
        print(
            f"{spec.name}: embedding {relative_error(mine_e[index], theirs_e[index]):.2e}, "
            f"logits {relative_error(mine_l[index], theirs_l[index]):.2e}"
        )
    print(
        f"all clips: embedding rel. error {relative_error(mine_e, theirs_e):.3e} "
        f"(max|orig| {theirs_e.abs().max():.3g}), logits {relative_error(mine_l, theirs_l):.3e} "
        f"(max|orig| {theirs_l.abs().max():.3g})"
    )
    return 0


def command_record(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as temp:
        runs = run_both(Path(temp))
    embeddings, logits = runs["theirs"]
    metadata = {
        "weights_seed": str(WEIGHTS_SEED),
        "weights_fingerprint": repr(fingerprint(runs["state"])),
        "clips_seed": str(CLIPS_SEED),
        "clips": json.dumps([spec.as_dict() for spec in CLIPS]),
        "eval_seconds": repr(EVAL_SECONDS),
        "loaded_lengths": json.dumps(runs["lengths"]),
        "recorded_with": (
            f"hkchengrex/av-benchmark {git_commit('av_bench')}, hkchengrex/passt_hear21 "
            f"{git_commit('hear21passt')}, torch {torch.__version__}"
        ),
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"embeddings": embeddings.contiguous(), "logits": logits.contiguous()}
    save_file(tensors, str(GOLDEN), metadata)
    mine_e, mine_l = runs["mine"]
    print(
        f"wrote {GOLDEN.relative_to(REPO_ROOT)} ({GOLDEN.stat().st_size} bytes); foleyzoo's rel. error: "
        f"embedding {relative_error(mine_e, embeddings):.3e}, logits {relative_error(mine_l, logits):.3e}"
    )
    return 0


def command_manifest(args: argparse.Namespace) -> int:
    from hear21passt.base import get_basic_model
    from hear21passt.models.passt import get_model

    network = get_model(arch=ARCH, pretrained=False)
    keys = {key: list(value.shape) for key, value in network.state_dict().items()}
    import hear21passt.models.helpers.vit_helpers as helpers

    helpers.load_pretrained = lambda *a, **k: None  # the wrapper's layout only: no weights needed
    wrapper_keys = set(get_basic_model(mode="all").state_dict())
    extra = sorted(wrapper_keys - {f"net.{key}" for key in keys})
    missing = sorted(f"net.{key}" for key in keys if f"net.{key}" not in wrapper_keys)
    if missing:
        raise SystemExit(f"the wrapper lacks network keys: {missing[:5]}")
    manifest = {
        "format": 1,
        "file": PaSST.weights_file,
        "url": PaSST.weights_url,
        "licence": PaSST.weights_licence,
        "size": SIZE_BYTES,
        "sha256": PaSST.published_sha256,
        "architecture": {"arch": ARCH, "width": 768, "depth": 12, "heads": 12, "patch": 16, "stride": 10},
        "passt_hear21_commit": git_commit("hear21passt"),
        "sources": SOURCES,
        "wrapper_keys_not_in_file": extra,
        "keys": keys,
    }
    MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST_PATH.write_text(compact_json(manifest) + "\n")
    print(f"wrote {MANIFEST_PATH.relative_to(REPO_ROOT)}: {len(keys)} keys; wrapper-only keys {extra}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("compare", help="per-clip relative errors against av-benchmark's code")
    commands.add_parser("record", help="rewrite the golden the tests compare with")
    commands.add_parser("manifest", help="rewrite the key/shape manifest from the original's state dict")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        return {"compare": command_compare, "record": command_record, "manifest": command_manifest}[
            args.command
        ](args)


if __name__ == "__main__":
    sys.exit(main())
