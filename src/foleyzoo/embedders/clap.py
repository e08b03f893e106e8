"""CLAP (transformers' ClapModel) from a local directory: audio and caption embeddings for the CLAP score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import prepare_audio
from foleyzoo.encoders.pretrained import (
    architecture_error,
    freeze_module,
    load_config,
    load_pretrained,
    load_tokenizer,
    resolve_model_dir,
)
from foleyzoo.errors import ConfigError

__all__ = ["CLAPAudio", "CLAPText", "ClapParts", "load_clap"]


class ClapParts:
    """A loaded CLAP model with its tokenizer and audio feature extractor (shared by both embedders)."""

    def __init__(self, model: Any, tokenizer: Any, feature_extractor: Any, source: str) -> None:
        self.model, self.tokenizer, self.feature_extractor, self.source = (
            model,
            tokenizer,
            feature_extractor,
            source,
        )

    @property
    def sample_rate(self) -> int:
        return int(self.feature_extractor.sampling_rate)


def load_clap(model_dir: str) -> ClapParts:
    """ClapModel, tokenizer and ClapFeatureExtractor saved in ``model_dir``; ConfigError naming it when unusable."""
    from transformers import ClapFeatureExtractor, ClapModel

    what = "CLAP"
    source, local = resolve_model_dir(model_dir, what)
    config = load_config(source, local, what)
    if config.model_type != "clap":
        raise architecture_error(source, config, what, "a 'clap' checkpoint (ClapModel)")
    model, _ = load_pretrained(ClapModel, source, local, config=config)
    tokenizer = load_tokenizer(source, local, what)
    try:
        extractor = ClapFeatureExtractor.from_pretrained(source, local_files_only=local)
    except Exception as exc:
        raise ConfigError(
            f"{source}: no usable CLAP feature extractor saved with the model ({type(exc).__name__}: {exc}); "
            "save it with ClapFeatureExtractor.save_pretrained (preprocessor_config.json)"
        ) from exc
    return ClapParts(freeze_module(model), tokenizer, extractor, source)


def _pooled(output: Any) -> Tensor:
    """The projected embedding of ``get_*_features``: a tensor (transformers 4) or its ``pooler_output`` (5)."""
    return output if isinstance(output, Tensor) else output.pooler_output


class _ClapEmbedder(Embedder):
    def __init__(self, model_dir: str | None = None, parts: ClapParts | None = None) -> None:
        super().__init__()
        if parts is None:
            if model_dir is None:
                raise ConfigError(
                    f"{type(self).__name__} needs model_dir, a directory written by save_pretrained"
                )
            parts = load_clap(model_dir)
        self.parts = parts
        self.model = parts.model  # registered, so .to(device) moves it

    def train(self, mode: bool = True) -> _ClapEmbedder:
        return super().train(False)


class CLAPAudio(_ClapEmbedder):
    """Audio → CLAP's projected, L2-normalised audio embedding (mono, resampled to the extractor's 48 kHz).

    ``duration`` (seconds) cuts or pads the audio first; the feature extractor then repeat-pads or
    truncates to its own 10 s as LAION-CLAP does (``truncation`` from the model: fusion or rand_trunc).
    """

    modality = "audio"

    def __init__(
        self, model_dir: str | None = None, duration: float | None = None, parts: ClapParts | None = None
    ):
        super().__init__(model_dir, parts)
        self.duration = duration

    @property
    def sample_rate(self) -> int:
        return self.parts.sample_rate

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"CLAPAudio embeds a Waveform, got {type(inputs).__name__}")
        audio = prepare_audio(inputs.samples, inputs.sample_rate, self.sample_rate, self.duration)[:, 0]
        fusion = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        features = self.parts.feature_extractor(
            [row.cpu().numpy() for row in audio],
            sampling_rate=self.sample_rate,
            truncation="fusion" if fusion else "rand_trunc",
            return_tensors="pt",
        )
        device = next(self.model.parameters()).device
        kwargs = {"input_features": features["input_features"].to(device)}
        if "is_longer" in features:
            kwargs["is_longer"] = features["is_longer"].to(device)
        return Embedding(values=F.normalize(_pooled(self.model.get_audio_features(**kwargs)).float(), dim=-1))


class CLAPText(_ClapEmbedder):
    """Captions → CLAP's projected, L2-normalised text embedding."""

    modality = "text"

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if isinstance(inputs, (Waveform, Video, str)):
            raise TypeError(f"CLAPText embeds a sequence of captions, got {type(inputs).__name__}")
        device = next(self.model.parameters()).device
        tokens = self.parts.tokenizer(list(inputs), padding=True, truncation=True, return_tensors="pt")
        output = self.model.get_text_features(
            input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
        )
        return Embedding(values=F.normalize(_pooled(output).float(), dim=-1))
