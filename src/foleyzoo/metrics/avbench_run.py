"""Running the av-benchmark protocol for ``foleyzoo eval``: which networks, what was computed, what was not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from foleyzoo.metrics.avbench_networks import (
    PUBLISHED,
    TOKENIZER_URL,
    find_clap_tokenizer,
    find_weights,
    load_avbench_networks,
)

__all__ = ["AVBENCH_METRICS", "AVBenchRun", "networks_for", "run_avbench"]

AVBENCH_METRICS: dict[str, tuple[str, ...]] = {
    "fd": ("vggish", "panns", "passt"),
    "kl": ("panns", "passt"),
    "is": ("panns", "passt"),
    "ib-score": ("imagebind",),
    "desync": ("synchformer",),
    "clap": ("laion-clap",),
}
"""``--metrics`` name → the av-benchmark networks that give it."""

DIRECTIONS = {"FD": "lower", "KL": "lower", "IB": "higher", "DeSync": "lower", "LAION": "higher"}


def avbench_direction(name: str) -> str:
    """``lower``/``higher``/``""`` for an av-benchmark result name (an IS standard deviation has none)."""
    if name.startswith("ISC-"):
        return "higher" if name.endswith("-mean") else ""
    return DIRECTIONS.get(name.split("-")[0], "")


def networks_for(metrics: Sequence[str]) -> set[str]:
    """The av-benchmark networks the requested metrics can use."""
    return {net for metric in metrics for net in AVBENCH_METRICS.get(metric, ())}


@dataclass
class AVBenchRun:
    """The results of the av-benchmark networks, which weights gave them, and what was not computed."""

    results: dict[str, float] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    """result name → the network file (name and SHA-256 prefix) it was computed with."""
    not_computed: list[dict[str, Any]] = field(default_factory=list)
    pairs: dict[str, int] = field(default_factory=dict)
    unpaired: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    networks: set[str] = field(default_factory=set)
    """The av-benchmark networks asked for, present or absent: their metrics are this run's to report."""


def run_avbench(
    generated: Path,
    reference: Path | None,
    videos: Path | None,
    captions: dict[str, str],
    metrics: Sequence[str],
    paths: dict[str, Path],
    weights_dir: Path | None,
    duration: float,
    device: torch.device,
    digests: dict[str, str],
    clap_tokenizer: Path | None = None,
) -> AVBenchRun:
    """av-benchmark's metrics for the networks given by ``paths`` or found in ``weights_dir``.

    ``digests`` maps a weights path to its SHA-256 (computed by the caller, once). A network asked for
    whose file is absent makes its metrics "not computed" with the reason; the others run.
    """
    from foleyzoo.metrics.avbench import avbench_results, gather_avbench_inputs

    inputs_for = {"imagebind": videos, "synchformer": videos, "laion-clap": captions}
    found = {name for name in PUBLISHED if inputs_for.get(name, True)} if weights_dir is not None else set()
    wanted = networks_for(metrics) & (set(paths) | found)  # from the folder: those whose inputs are given
    present, absent = find_weights(paths, weights_dir, wanted)
    run = AVBenchRun(files=present, networks=set(present) | set(absent))
    if not present and not absent:
        return run
    inputs = gather_avbench_inputs(generated, reference, videos, captions)
    tokenizer = find_clap_tokenizer(clap_tokenizer, weights_dir, present.get("laion-clap"))
    if "laion-clap" in present and tokenizer is None and "clap" in metrics:
        absent["laion-clap"] = (
            "LAION-CLAP's captions need roberta-base's tokenizer files: give --clap-tokenizer DIR with "
            f"vocab.json and merges.txt ({TOKENIZER_URL}), or put them in <weights-dir>/roberta-base"
        )
        present = {name: path for name, path in present.items() if name != "laion-clap"}
    nets = load_avbench_networks(present, device, {"clap_tokenizer": tokenizer})
    outcome = avbench_results(inputs, nets, metrics, duration, device, absent)
    run.results, run.pairs, run.unpaired = outcome.values, outcome.pairs, outcome.unpaired
    run.not_computed = [
        {"metrics": list(item.metrics), "reason": item.reason} for item in outcome.not_computed
    ]
    for network, path in present.items():
        for name in PUBLISHED[network].results:
            if name in run.results:
                run.weights[name] = f"{path.name} (sha256 {digests.get(str(path), '?')[:12]})"
    return run
