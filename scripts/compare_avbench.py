"""Compare foleyzoo's av-benchmark protocol with av-benchmark's own code (PANNs, VGGish and the metric arithmetic).

Runs in an environment where av-benchmark is importable (``git clone https://github.com/hkchengrex/av-benchmark``,
``PYTHONPATH=path/to/av-benchmark:path/to/foleyzoo/src``; it needs torch, torchaudio with a working
``torchaudio.load``, scipy, resampy, pytorchvideo); not run in CI. Both sides read the same synthetic wav
files (:mod:`foleyzoo.metrics.avbench_parity`) and load the same seeded random weights written in the
published containers — no published weights are needed. av-benchmark's side runs its own ``AudioDataset``,
``Cnn14`` and ``VGGish`` (its constructors' downloads replaced by the seeded files: PANNs is read from the
``~/.cache/audioldm_eval/ckpt`` folder it looks in, with ``HOME`` pointed at a temporary folder; VGGish
is built with ``pretrained=False`` and loaded strictly), then the feature tables and metric functions of
its ``evaluate`` (``compute_fd``, ``compute_kl``, ``compute_isc``, ``unroll_*``) exactly as that function
calls them.

    python scripts/compare_avbench.py record    # rewrite tests/metrics/data/avbench_panns_vggish.safetensors
    python scripts/compare_avbench.py compare   # foleyzoo eval --protocol av-benchmark vs av-benchmark

``compare`` runs ``foleyzoo eval --protocol av-benchmark`` in this interpreter on the same files and
prints each metric's relative difference; where ``hear21passt`` (av-benchmark's fork,
hkchengrex/passt_hear21) is importable, PaSST's metrics too (``get_basic_model(mode="all")`` with its
download replaced by the seeded file).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from foleyzoo.metrics.avbench_parity import (
    GENERATED_CLIPS,
    REFERENCE_CLIPS,
    panns_state,
    vggish_state,
    write_parity_clips,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = REPO_ROOT / "tests" / "metrics" / "data" / "avbench_panns_vggish.safetensors"
WEIGHTS_SEED, CLIPS_SEED = 29, 7


def fingerprint(state: dict[str, torch.Tensor]) -> float:
    return float(sum(state[key].double().abs().sum() for key in sorted(state)))


def write_weights(folder: Path, with_passt: bool = False) -> dict[str, Path]:
    """The seeded weights in the published containers: PANNs ``{"model": ...}`` .pth, VGGish and PaSST plain
    state dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    panns, vggish = folder / "Cnn14_16k_mAP=0.438.pth", folder / "vggish-10086976.pth"
    torch.save({"model": panns_state(WEIGHTS_SEED)}, panns)
    torch.save(vggish_state(WEIGHTS_SEED), vggish)
    files = {"panns": panns, "vggish": vggish}
    if with_passt:
        from foleyzoo.embedders.passt import PaSST
        from foleyzoo.embedders.passt.network import passt_random_state

        files["passt"] = folder / PaSST.weights_file
        torch.save(passt_random_state(WEIGHTS_SEED), files["passt"])
    return files


def avbench_passt_tables(root: Path, weights: Path) -> dict[str, Any]:
    """av-benchmark's PaSST features and logits of both folders: its AudioDataset at 32 kHz, the 320000-sample
    window and ``get_basic_model(mode="all")`` (its download replaced by the seeded file)."""
    import hear21passt.models.helpers.vit_helpers as helpers
    from av_bench.data.audio_dataset import AudioDataset
    from hear21passt.base import get_basic_model

    helpers.download_cached_file = lambda url, **_: str(weights)
    model = get_basic_model(mode="all").eval()
    tables: dict[str, Any] = {}
    for side in ("reference", "generated"):
        files = sorted((root / side).glob("*.wav"), key=lambda p: p.stem)
        dataset = AudioDataset(files, audio_length=8.0, sr=32000)
        features, logits = {}, {}
        with torch.inference_mode():
            for index in range(len(dataset)):
                wav, stem = dataset[index]
                wav = wav.float()
                wav = (
                    wav[..., :320000]
                    if wav.shape[-1] >= 320000
                    else torch.nn.functional.pad(wav, (0, 320000 - wav.shape[-1]))
                )
                output = model(wav)
                logits[stem], features[stem] = output[0, :527], output[0, 527:]
        tables[side] = {"features": features, "logits": logits}
    return tables


def avbench_passt_metrics(tables: dict[str, Any]) -> dict[str, float]:
    """The PaSST lines of av-benchmark's ``evaluate`` (paired mode), its functions."""
    from av_bench.metrics import compute_fd, compute_isc, compute_kl
    from av_bench.utils import unroll_paired_dict

    gt_features, pred_features, _ = unroll_paired_dict(
        tables["reference"]["features"], tables["generated"]["features"]
    )
    gt_logits, pred_logits, _ = unroll_paired_dict(
        tables["reference"]["logits"], tables["generated"]["logits"]
    )
    isc = compute_isc(pred_logits, feat_layer_name=None, splits=10, samples_shuffle=True, rng_seed=2020)
    return {
        "FD-PASST": float(compute_fd(pred_features.numpy(), gt_features.numpy())),
        "KL-PASST-softmax": float(compute_kl([pred_logits], gt_logits)["kl_softmax"]),
        "ISC-PASST-mean": float(isc["inception_score_mean"]),
        "ISC-PASST-std": float(isc["inception_score_std"]),
    }


def avbench_tables(root: Path, weights: dict[str, Path]) -> dict[str, Any]:
    """av-benchmark's PANNs and VGGish feature tables of both folders, keyed by stem, from its own classes."""
    cache = root / "home" / ".cache" / "audioldm_eval" / "ckpt"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "Cnn14_16k_mAP=0.438.pth").write_bytes(weights["panns"].read_bytes())
    (cache / "Cnn14_mAP=0.431.pth").write_bytes(b"")  # its presence stops the constructor's download
    os.environ["HOME"] = str(root / "home")
    from av_bench.data.audio_dataset import AudioDataset
    from av_bench.panns import Cnn14
    from av_bench.vggish.vggish import VGGish

    panns = Cnn14(
        features_list=["2048", "logits"],
        sample_rate=16000,
        window_size=512,
        hop_size=160,
        mel_bins=64,
        fmin=50,
        fmax=8000,
        classes_num=527,
    ).eval()
    vggish = VGGish(pretrained=False, postprocess=False, device=torch.device("cpu")).eval()
    vggish.load_state_dict(torch.load(weights["vggish"], weights_only=True), strict=True)
    tables: dict[str, Any] = {}
    for side in ("reference", "generated"):
        files = sorted((root / side).glob("*.wav"), key=lambda p: p.stem)
        dataset = AudioDataset(files, audio_length=8.0, sr=16000)
        pann, vgg = {}, {}
        with torch.inference_mode():
            for index in range(len(dataset)):  # one clip at a time: the clips differ in length
                wav, stem = dataset[index]
                wav = wav.float()
                features = panns(wav)
                pann[stem] = {key: value[0] for key, value in features.items()}
                vgg[stem] = vggish(wav)[0]
        tables[side] = {"pann": pann, "vggish": vgg}
    return tables


def avbench_metrics(tables: dict[str, Any]) -> dict[str, float]:
    """The PANNs / VGGish lines of av-benchmark's ``evaluate`` (paired mode, one sample a clip), its functions."""
    from av_bench.metrics import compute_fd, compute_isc, compute_kl
    from av_bench.utils import unroll_dict, unroll_dict_all_keys, unroll_paired_dict_with_key

    gt_pann, pred_pann = tables["reference"]["pann"], tables["generated"]["pann"]
    paired_logits, gt_logits = unroll_paired_dict_with_key(gt_pann, pred_pann, num_samples=1)
    gt_all, pred_all = unroll_dict_all_keys(gt_pann), unroll_dict_all_keys(pred_pann)
    gt_vgg = unroll_dict(tables["reference"]["vggish"], cat=True)
    pred_vgg = unroll_dict(tables["generated"]["vggish"], cat=True)
    isc = compute_isc(pred_all, feat_layer_name="logits", splits=10, samples_shuffle=True, rng_seed=2020)
    return {
        "FD-VGG": float(compute_fd(pred_vgg.numpy(), gt_vgg.numpy())),
        "FD-PANN": float(compute_fd(pred_all["2048"].numpy(), gt_all["2048"].numpy())),
        "KL-PANNS-softmax": float(compute_kl(paired_logits, gt_logits)["kl_softmax"]),
        "ISC-PANNS-mean": float(isc["inception_score_mean"]),
        "ISC-PANNS-std": float(isc["inception_score_std"]),
    }


def flat_tensors(tables: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = {}
    for side, table in tables.items():
        for stem, features in table["pann"].items():
            out[f"{side}/{stem}/panns_embedding"] = features["2048"].contiguous()
            out[f"{side}/{stem}/panns_logits"] = features["logits"].contiguous()
        for stem, examples in table["vggish"].items():
            out[f"{side}/{stem}/vggish_examples"] = examples.contiguous()
    return out


def record(root: Path) -> None:
    write_parity_clips(root / "reference", REFERENCE_CLIPS, CLIPS_SEED)
    write_parity_clips(root / "generated", GENERATED_CLIPS, CLIPS_SEED + 1)
    weights = write_weights(root / "weights")
    tables = avbench_tables(root, weights)
    metrics = avbench_metrics(tables)
    print(json.dumps(metrics, indent=1))
    metadata = {
        "weights_seed": str(WEIGHTS_SEED),
        "clips_seed": str(CLIPS_SEED),
        "panns_fingerprint": repr(fingerprint(panns_state(WEIGHTS_SEED))),
        "vggish_fingerprint": repr(fingerprint(vggish_state(WEIGHTS_SEED))),
        "metrics": json.dumps(metrics),
        "source": "av-benchmark (hkchengrex/av-benchmark), AudioDataset + Cnn14 + VGGish + evaluate's metric functions",
    }
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    save_file(flat_tensors(tables), str(GOLDEN), metadata=metadata)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


def compare(root: Path) -> None:
    from foleyzoo.cli.eval_cmd import main as eval_main

    write_parity_clips(root / "reference", REFERENCE_CLIPS, CLIPS_SEED)
    write_parity_clips(root / "generated", GENERATED_CLIPS, CLIPS_SEED + 1)
    with_passt = importlib.util.find_spec("hear21passt") is not None
    weights = write_weights(root / "weights", with_passt)
    theirs = avbench_metrics(avbench_tables(root, weights))
    if with_passt:
        theirs.update(avbench_passt_metrics(avbench_passt_tables(root, weights["passt"])))
    else:
        print("hear21passt is not importable here: PaSST's metrics are not compared")
    out = root / "ours.json"
    code = eval_main(
        ["--generated", str(root / "generated"), "--reference", str(root / "reference"),
         "--weights-dir", str(root / "weights"), "--json", str(out)]
    )  # fmt: skip
    if code:
        sys.exit(code)
    ours = json.loads(out.read_text())["results"]
    for name, value in theirs.items():
        print(f"{name:18s} av-benchmark {value:.8g}  foleyzoo {ours.get(name, float('nan')):.8g}  "
              f"relative {abs(ours.get(name, float('nan')) - value) / max(abs(value), 1e-12):.2e}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("record", "compare"))
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    with tempfile.TemporaryDirectory() as folder:
        (record if args.action == "record" else compare)(Path(folder))


if __name__ == "__main__":
    main()
