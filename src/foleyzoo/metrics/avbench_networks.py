"""The published networks av-benchmark's metrics need: their files, where they are published, and loading them.

A network is given by ``--embedders NAME=PATH`` or found by its published file name in ``--weights-dir``
(the layout of av-benchmark's ``weights/`` folder, or any folder holding the files). A network asked for
whose file is absent is not an error: its metrics are listed as not computed, naming the file and where
it is published, and the other metrics still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from foleyzoo.errors import ConfigError

__all__ = [
    "PUBLISHED",
    "PublishedNetwork",
    "absent_message",
    "find_clap_tokenizer",
    "find_weights",
    "load_avbench_networks",
]


@dataclass(frozen=True)
class PublishedNetwork:
    """One of av-benchmark's networks: ``--embedders`` name, published file, address, licence, its results."""

    name: str
    file: str
    url: str
    licence: str
    results: tuple[str, ...]
    what: str
    sha256: str | None = None
    """The published file's SHA-256 (or its first digits) where it is known, to tell a user whether their
    file is that one."""


PUBLISHED: dict[str, PublishedNetwork] = {
    net.name: net
    for net in (
        PublishedNetwork(
            "panns",
            "Cnn14_16k_mAP=0.438.pth",
            "https://zenodo.org/record/3987831/files/Cnn14_16k_mAP%3D0.438.pth",
            "PANNs (Kong et al.), code MIT; weights as published on Zenodo (CC BY 4.0)",
            ("FD-PANN", "KL-PANNS-softmax", "ISC-PANNS-mean", "ISC-PANNS-std"),
            "PANNs CNN14 (16 kHz)",
        ),
        PublishedNetwork(
            "vggish",
            "vggish-10086976.pth",
            "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
            "VGGish (Hershey et al.), Apache-2.0 (PyTorch port by harritaylor)",
            ("FD-VGG",),
            "VGGish",
            "10086976",  # torch.hub names a file by its SHA-256's first digits: the published one's
        ),
        PublishedNetwork(
            "passt",
            "passt-s-f128-p16-s10-ap.476-swa.pt",
            "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt",
            "PaSST (Koutini et al.), Apache-2.0",
            ("FD-PASST", "KL-PASST-softmax", "ISC-PASST-mean", "ISC-PASST-std"),
            "PaSST (passt_s_swa_p16_128_ap476)",
            "302903fa8c4aee817b11dc982da0b29aaf8d11a3e722420476d0a12c9db70c2c",
        ),
        PublishedNetwork(
            "imagebind",
            "imagebind_huge.pth",
            "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
            "ImageBind (Girdhar et al.), CC BY-NC-SA 4.0",
            ("IB-Score",),
            "ImageBind (huge)",
        ),
        PublishedNetwork(
            "synchformer",
            "synchformer_state_dict.pth",
            "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth",
            "Synchformer (Iashin et al.), code MIT; as distributed with MMAudio (checkpoints CC BY-NC 4.0)",
            ("DeSync",),
            "Synchformer",
            "8aff082f2df5c3bc52759db0c865c7ee772ae6400b860d1b7e90413f2defb67c",
        ),
        PublishedNetwork(
            "laion-clap",
            "music_speech_audioset_epoch_15_esc_89.98.pt",
            "https://huggingface.co/lukewys/laion_clap/resolve/main/music_speech_audioset_epoch_15_esc_89.98.pt",
            "LAION-CLAP (Wu et al.), code CC0 1.0; weights as published on Hugging Face",
            ("LAION-CLAP-Score",),
            "LAION-CLAP (HTSAT-base, music_speech_audioset)",
            "51c68f12f9d7ea25fdaaccf741ec7f81e93ee594455410f3bca4f47f88d8e006",
        ),
    )
}
"""av-benchmark's networks, in the order its ``output_metrics.json`` lists their results."""


def absent_message(net: PublishedNetwork, path: Path) -> str:
    """The line a missing weights file gets: which file, where it was looked for, where it is published."""
    return f"{net.what} weights not found: {path} (download {net.file} from {net.url})"


def find_weights(
    paths: dict[str, Path], weights_dir: Path | None, wanted: set[str]
) -> tuple[dict[str, Path], dict[str, str]]:
    """({network: file present}, {network: why absent}) for av-benchmark's networks.

    A network named in ``paths`` must exist there; otherwise, with ``weights_dir``, its published file
    name is looked for in that folder. ``wanted`` are the networks the requested metrics use.
    """
    present, absent = {}, {}
    for name in (name for name in PUBLISHED if name in wanted):  # the order of av-benchmark's results
        net = PUBLISHED[name]
        path = paths.get(name)
        if path is None and weights_dir is not None:
            path = weights_dir / net.file
        if path is None:
            continue
        if path.is_file():
            present[name] = path
        else:
            absent[name] = absent_message(net, path)
    return present, absent


Loader = Callable[[Path, dict[str, Any]], dict[str, Any]]
_LOADERS: dict[str, Loader] = {}


def _loader(name: str) -> Callable[[Loader], Loader]:
    def register(function: Loader) -> Loader:
        _LOADERS[name] = function
        return function

    return register


@_loader("panns")
def _panns(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.panns import PANNsCNN14

    return {"panns": PANNsCNN14(str(path))}


@_loader("vggish")
def _vggish(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.vggish import VGGish

    return {"vggish": VGGish(str(path), final_relu=False)}


@_loader("passt")
def _passt(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.passt import PaSST

    return {"passt": PaSST(str(path))}


@_loader("imagebind")
def _imagebind(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.imagebind import ImageBindAudio, ImageBindVideo

    return {"imagebind": ImageBindAudio(str(path)), "imagebind-video": ImageBindVideo(str(path))}


@_loader("synchformer")
def _synchformer(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.synchformer import SynchformerDeSync

    return {"synchformer": SynchformerDeSync(str(path))}


@_loader("laion-clap")
def _laion_clap(path: Path, options: dict[str, Any]) -> dict[str, Any]:
    from foleyzoo.embedders.laion_clap import LaionCLAPAudio, LaionCLAPText

    audio = LaionCLAPAudio(str(path))
    tokenizer = options.get("clap_tokenizer")
    return {"laion-clap": audio, "laion-clap-text": LaionCLAPText(str(path), tokenizer, model=audio.model)}


TOKENIZER_URL = "https://huggingface.co/FacebookAI/roberta-base (vocab.json and merges.txt)"


def find_clap_tokenizer(given: Path | None, weights_dir: Path | None, clap_file: Path | None) -> Path | None:
    """The folder with roberta-base's ``vocab.json`` and ``merges.txt`` LAION-CLAP's captions need: given,
    or ``roberta-base/`` in the weights folder, or beside the LAION-CLAP file; None when there is none."""
    candidates = [given] if given is not None else []
    if weights_dir is not None:
        candidates.append(weights_dir / "roberta-base")
    if clap_file is not None:
        candidates += [clap_file.parent / "roberta-base", clap_file.parent]
    for folder in candidates:
        if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            return folder
    if given is not None:
        raise ConfigError(
            f"{given}: no vocab.json and merges.txt here (roberta-base's, from {TOKENIZER_URL})"
        )
    return None


def load_avbench_networks(
    present: dict[str, Path], device: torch.device, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Each present network built from its file (strictly: another model's file is a ConfigError) on ``device``.

    ``options``: ``clap_tokenizer``, the roberta-base tokenizer folder LAION-CLAP's captions need.
    """
    nets: dict[str, Any] = {}
    for name, path in present.items():
        if name not in _LOADERS:
            raise ConfigError(f"{path}: foleyzoo cannot load {PUBLISHED[name].what} yet")
        nets.update(_LOADERS[name](path, options or {}))
    return {name: net.to(device) for name, net in nets.items()}
