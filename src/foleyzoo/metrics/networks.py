"""The evaluation networks of ``foleyzoo eval``, named ``NAME=PATH``: foleyzoo's short names or any
registered :class:`~foleyzoo.api.Embedder` plugin, each built through the plugin registry."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from foleyzoo.api import Embedder
from foleyzoo.errors import ConfigError

__all__ = [
    "AUDIO_EMBEDDERS",
    "EMBEDDER_NAMES",
    "FD_LABELS",
    "fd_networks",
    "load_networks",
    "parse_embedders",
]

EMBEDDER_NAMES = {
    "panns": "a PANNs CNN14 weights file (Cnn14_16k_mAP=0.438.pth or .safetensors)",
    "vggish": "a VGGish weights file (vggish-10086976.pth or .safetensors)",
    "clap": "a CLAP model directory written by save_pretrained (ClapModel, tokenizer, feature extractor)",
    "contrastive": "an AVContrastive checkpoint of `foleyzoo fit`",
    "sync": "a SyncPretraining checkpoint of `foleyzoo fit`",
    "passt": "PaSST weights (passt-s-f128-p16-s10-ap.476-swa.pt; --protocol av-benchmark)",
    "imagebind": "ImageBind huge weights (imagebind_huge.pth; --protocol av-benchmark)",
    "synchformer": "Synchformer weights (synchformer_state_dict.pth; --protocol av-benchmark)",
    "laion-clap": "LAION-CLAP weights (music_speech_audioset_epoch_15_esc_89.98.pt; --protocol av-benchmark)",
}
"""foleyzoo's short names for its evaluation networks; any registered Embedder plugin's name works too."""
FD_LABELS = {"panns": "PANNs", "vggish": "VGGish", "contrastive": "AVContrastive"}
AUDIO_EMBEDDERS = tuple(FD_LABELS)


def parse_embedders(items: Sequence[str]) -> dict[str, Path]:
    """``NAME=PATH`` items → {name: path}; a name must be foleyzoo's or a registered Embedder plugin's."""
    from foleyzoo.plugins.registry import get_registry

    plugins = get_registry().names("foleyzoo.embedders")
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise ConfigError(
                f"--embedders takes NAME=PATH, got {item!r} (names: {', '.join(EMBEDDER_NAMES)})"
            )
        if name not in EMBEDDER_NAMES and name not in plugins:
            raise ConfigError(
                f"--embedders: unknown network {name!r}; foleyzoo eval knows {', '.join(EMBEDDER_NAMES)} "
                f"and the registered embedders {', '.join(plugins)}"
            )
        out[name] = Path(value).expanduser()
    return out


def load_networks(paths: dict[str, Path], metrics: Sequence[str], device: torch.device) -> dict[str, Any]:
    """The networks the metrics need, each loaded once from its file and moved to ``device``."""
    from foleyzoo.plugins.factory import create

    wanted = set(metrics)
    nets: dict[str, Any] = {}
    if "panns" in paths and wanted & {"fd", "kl", "is"}:
        nets["panns"] = create("embedders", "PANNsCNN14", str(paths["panns"]))
    if "vggish" in paths and "fd" in wanted:
        nets["vggish"] = create("embedders", "VGGish", str(paths["vggish"]))
    if "contrastive" in paths and wanted & {"fd", "favd", "av-align"}:
        from foleyzoo.embedders.own import AVContrastiveVideo

        nets["contrastive"] = create("embedders", "AVContrastiveAudio", str(paths["contrastive"]))
        nets["contrastive-video"] = AVContrastiveVideo.sharing(nets["contrastive"])
    if "clap" in paths and "clap" in wanted:
        from foleyzoo.embedders.clap import load_clap

        parts = load_clap(str(paths["clap"]))
        nets["clap"] = create("embedders", "CLAPAudio", parts=parts)
        nets["clap-text"] = create("embedders", "CLAPText", parts=parts)
    if "sync" in paths and "desync" in wanted:
        from foleyzoo.embedders.own import SyncOffsetModel

        nets["sync"] = SyncOffsetModel(str(paths["sync"]))
    if "fd" in wanted:
        for name in sorted(set(paths) - set(EMBEDDER_NAMES)):  # a third party's Embedder plugin
            nets[name] = create("embedders", name, str(paths[name]))
    return {name: net.to(device) for name, net in nets.items()}


def fd_networks(nets: dict[str, Any]) -> list[str]:
    """The audio embedders a Fréchet distance is computed for: foleyzoo's, then the plugins'."""
    ours = [name for name in AUDIO_EMBEDDERS if name in nets]
    theirs = sorted(
        name for name, net in nets.items() if name not in _OWN_NETWORKS and isinstance(net, Embedder)
    )
    return ours + theirs


_OWN_NETWORKS = frozenset({*EMBEDDER_NAMES, "contrastive-video", "clap-text"})
