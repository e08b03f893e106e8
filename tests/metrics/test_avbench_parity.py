"""foleyzoo's av-benchmark protocol equals av-benchmark's own code: PANNs, VGGish, the file rules and the metrics.

The golden (tests/metrics/data/avbench_panns_vggish.safetensors, written by ``scripts/compare_avbench.py
record``) holds what av-benchmark's ``AudioDataset``, ``Cnn14``, ``VGGish`` and ``evaluate``'s metric
functions gave on seeded random weights (in the published containers) for the synthetic folders of
:mod:`foleyzoo.metrics.avbench_parity`: per-clip PANNs embeddings and logits, VGGish examples, and
FD-VGG, FD-PANN, KL-PANNS-softmax, ISC-PANNS-mean/std.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.metrics.avbench import Features, avbench_results, gather_avbench_inputs
from foleyzoo.metrics.avbench_parity import (
    GENERATED_CLIPS,
    REFERENCE_CLIPS,
    panns_state,
    vggish_state,
    write_parity_clips,
)

GOLDEN = Path(__file__).parent / "data" / "avbench_panns_vggish.safetensors"
TOLERANCE = 1e-4


def golden() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(GOLDEN), "pt") as stored:
        return {key: stored.get_tensor(key) for key in stored.keys()}, stored.metadata()  # noqa: SIM118


def recorded_tables(tensors: dict[str, torch.Tensor]) -> dict[tuple[str, str], Features]:
    tables: dict[tuple[str, str], Features] = {}
    for key, value in tensors.items():
        side, stem, kind = key.split("/")
        network = "vggish" if kind == "vggish_examples" else "panns"
        table = tables.setdefault((network, side), Features())
        if kind == "panns_logits":
            table.logits[stem] = value
        else:
            table.values[stem] = value
    for table in tables.values():  # the side's sorted order, as av-benchmark lists the files
        table.values = dict(sorted(table.values.items()))
        table.logits = dict(sorted(table.logits.items()))
    return tables


def folders(root: Path, seed: int) -> tuple[Path, Path]:
    write_parity_clips(root / "reference", REFERENCE_CLIPS, seed)
    write_parity_clips(root / "generated", GENERATED_CLIPS, seed + 1)
    return root / "generated", root / "reference"


def relative(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / max(abs(theirs), 1e-12)


def test_the_metrics_of_av_benchmarks_recorded_features_are_its_numbers(tmp_path):
    """File rules, pairing and metric arithmetic alone: av-benchmark's own per-clip features in, its values out."""
    tensors, metadata = golden()
    theirs = json.loads(metadata["metrics"])
    generated, reference = folders(tmp_path, int(metadata["clips_seed"]))
    inputs = gather_avbench_inputs(generated, reference, None, {})
    tables = recorded_tables(tensors)
    cpu = torch.device("cpu")
    # FD-PANN's 2048-d matrix square root takes half a minute here: the slow test below covers it
    outcome = avbench_results(inputs, {"panns": None}, ["kl", "is"], 8.0, cpu, {}, tables=tables)
    outcome.values.update(
        avbench_results(inputs, {"vggish": None}, ["fd"], 8.0, cpu, {}, tables=tables).values
    )
    assert set(outcome.values) == set(theirs) - {"FD-PANN"}
    for name, value in theirs.items():
        if name == "FD-PANN":
            continue
        assert relative(outcome.values[name], value) <= TOLERANCE, (name, outcome.values[name], value)
    # KL-PANNs pairs by exact stem: the "-0" sample and the unmatched clip stay out (9 of 11)
    assert outcome.pairs["KL-PANNS-softmax"] == 9


@pytest.mark.slow
def test_foleyzoo_eval_on_the_same_files_and_weights_gives_av_benchmarks_features_and_numbers(
    tmp_path, capsys
):
    """End to end: the weights regenerated in the published containers, the clips rewritten, `foleyzoo eval`."""
    from foleyzoo.cli.eval_cmd import main as eval_main
    from foleyzoo.embedders.panns import PANNsCNN14
    from foleyzoo.embedders.vggish import VGGish
    from foleyzoo.metrics.avbench_audio import load_mono

    tensors, metadata = golden()
    seed = int(metadata["weights_seed"])
    weights = tmp_path / "weights"
    weights.mkdir()
    torch.save({"model": panns_state(seed)}, weights / "Cnn14_16k_mAP=0.438.pth")
    torch.save(vggish_state(seed), weights / "vggish-10086976.pth")
    generated, reference = folders(tmp_path, int(metadata["clips_seed"]))

    # per clip, on the 48 kHz 10 s file with a DC offset (foleyzoo eval below embeds every file)
    panns = PANNsCNN14(str(weights / "Cnn14_16k_mAP=0.438.pth"))
    vggish = VGGish(str(weights / "vggish-10086976.pth"), final_relu=False)
    from foleyzoo.api import Waveform

    for stem in ("clip_04",):
        audio = load_mono(reference / f"{stem}.wav", 16000, 8.0)
        wave = Waveform(audio.reshape(1, 1, -1), 16000)
        out = panns.embed(wave)
        for ours, key in ((out.values[0], "panns_embedding"), (out.logits[0], "panns_logits")):
            theirs = tensors[f"reference/{stem}/{key}"]
            assert float((ours - theirs).abs().max() / theirs.abs().max()) <= TOLERANCE, (stem, key)
        examples = vggish.embed_examples(wave)[0]
        theirs = tensors[f"reference/{stem}/vggish_examples"]
        assert examples.shape == theirs.shape
        assert float((examples - theirs).abs().max() / theirs.abs().max()) <= TOLERANCE, stem

    out = tmp_path / "results.json"
    code = eval_main(
        ["--generated", str(generated), "--reference", str(reference), "--weights-dir", str(weights),
         "--metrics", "fd", "kl", "is", "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    record = json.loads(out.read_text())
    for name, value in json.loads(metadata["metrics"]).items():
        assert relative(record["results"][name], value) <= TOLERANCE, (name, record["results"][name], value)
    missing = {name for item in record["not_computed"] for name in item["metrics"]}
    assert {"FD-PASST", "KL-PASST-softmax", "ISC-PASST-mean"} <= missing  # listed, not silently dropped
    printed = capsys.readouterr().out
    assert "passt-s-f128-p16-s10-ap.476-swa.pt" in printed and "| FD-PANN |" in printed
