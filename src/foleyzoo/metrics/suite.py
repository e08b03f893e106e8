"""The evaluation suite behind ``foleyzoo eval``: the metrics' adapters over chunks of paired clips.

Each metric is a :class:`~foleyzoo.metrics.adapters.MetricAdapter`: what it needs (networks, videos,
captions, ground truth), how it takes one chunk of paired clips, and the numbers it reports. Networks
come from :mod:`foleyzoo.metrics.networks` (foleyzoo's short names or any registered Embedder plugin),
clips from :mod:`foleyzoo.metrics.clips`: audio is read once per clip and rate, and every embedding is
computed once per chunk, whichever metrics use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from foleyzoo.errors import ConfigError
from foleyzoo.metrics.adapters import ADAPTERS, METRICS, direction, truth_files
from foleyzoo.metrics.clips import EvalSettings, chunks
from foleyzoo.metrics.inputs import Inputs
from foleyzoo.metrics.networks import EMBEDDER_NAMES, load_networks, parse_embedders

__all__ = [
    "EMBEDDER_NAMES",
    "METRICS",
    "EvalSettings",
    "check_needs",
    "default_metrics",
    "direction",
    "evaluate",
    "load_networks",
    "markdown_table",
    "parse_embedders",
    "settings_record",
    "sha256_of",
]


def check_needs(metrics: Sequence[str], paths: dict[str, Path], inputs: Inputs) -> None:
    """A ConfigError for a requested metric that lacks its network, videos or captions."""
    for metric in metrics:
        adapter = ADAPTERS[metric]
        if not adapter.available(paths, inputs):
            raise ConfigError(f"metric {metric!r} needs {adapter.need}")


def default_metrics(paths: dict[str, Path], inputs: Inputs) -> list[str]:
    """Every metric the networks and inputs allow (SynthFoley where every pair has its ground truth)."""
    return [
        key
        for key, adapter in ADAPTERS.items()
        if adapter.available(paths, inputs) and (key != "synthfoley" or truth_files(inputs, required=False))
    ]


@torch.no_grad()
def evaluate(
    inputs: Inputs, metrics: Sequence[str], nets: dict[str, Any], settings: EvalSettings
) -> dict[str, float]:
    """Every requested metric over the paired clips → {result name: value}, in the order of ``metrics``."""
    adapters = [ADAPTERS[key](settings, nets, inputs) for key in metrics]
    for chunk in chunks(inputs, nets, settings):
        for adapter in adapters:
            adapter.update(chunk)
    results: dict[str, float] = {}
    for adapter in adapters:
        results.update(adapter.results())
    return results


def markdown_table(results: dict[str, float]) -> str:
    """The results as a markdown table: metric, value, and whether lower or higher is better."""
    arrows = {"lower": "↓ lower is better", "higher": "↑ higher is better", "": ""}
    lines = ["| metric | value | direction |", "|---|---:|---|"]
    lines += [f"| {name} | {value:.4f} | {arrows[direction(name)]} |" for name, value in results.items()]
    return "\n".join(lines)


def sha256_of(file: Path) -> str:
    """The SHA-256 of a file, read in blocks (weights files are gigabytes)."""
    sha = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """Path and SHA-256 of a weights file (a directory: of each file in it), to trace results to weights."""
    digest = sha256_of

    if path.is_dir():
        return {
            "path": str(path.resolve()),
            "sha256": {p.name: digest(p) for p in sorted(path.iterdir()) if p.is_file()},
        }
    return {"path": str(path.resolve()), "sha256": digest(path)}


def settings_record(
    sources: dict[str, Path | None],
    settings: EvalSettings,
    metrics: Sequence[str],
    paths: dict[str, Path],
    nets: dict[str, Any],
) -> dict[str, Any]:
    """Every setting that determines the numbers: inputs, pre-processing, networks and metric parameters."""
    rates = {name: int(net.sample_rate) for name, net in nets.items() if hasattr(net, "sample_rate")}
    return {
        **{name: None if path is None else str(path.resolve()) for name, path in sources.items()},
        "metrics": list(metrics),
        "audio": {
            "channels": "mono (mean of the channels)",
            "duration_s": settings.duration,
            "length": "cut to duration, zero-padded at the end when shorter",
            "decode_sample_rate": settings.decode_rate,
            "network_sample_rates": rates,
            "resampling": "PyAV (libswresample) when decoding; windowed sinc (6 zero crossings, roll-off 0.99) after --sample-rate",
        },
        "networks": {name: file_record(path) for name, path in paths.items()},
        "fd": "Fréchet distance of Gaussians fitted to the paired clips' embeddings (unbiased covariance, float64); VGGish pools every 0.96 s example",
        "favd": "Fréchet audio-visual distance: FD (as fd) of each paired clip's AVContrastive audio embedding concatenated with its video's embedding, so a wrong pairing counts",
        "kl": "KL(reference ‖ generated) of softmax(PANNs logits), summed over the 527 classes, averaged over pairs",
        "is": {
            "logits": "PANNs",
            "splits": settings.is_splits,
            "shuffle_seed": settings.is_seed,
            "std": "numpy (ddof 0)",
        },
        "av_align": "mean cosine of AVContrastive audio and video embeddings, raw scale [-1, 1]",
        "desync": desync_record(nets.get("sync")),
        "clap": "mean cosine of CLAP text and audio embeddings, raw scale [-1, 1]",
        "batch_size": settings.batch_size,
        "device": settings.device,
    }


def desync_record(judge: Any) -> str:
    """How DeSync was computed, including what the judge does with a sound it cannot place."""
    rule = "mean |offset| (s) SyncPretraining predicts, over windows spread over each clip"
    if judge is None:
        return rule
    model = judge.model
    if model.null_label is None:
        return f"{rule}; every window gets a grid offset (no 'nothing to synchronise' class)"
    return (
        f"{rule}; a window the judge finds nothing to synchronise in counts as {model.max_offset:g} s, "
        "the edge of its grid"
    )
