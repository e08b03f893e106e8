"""How much a trained codec keeps: held-out log-mel L1 against a trivial baseline, and SynthFoley scores.

* :func:`mel_l1_ratio`: the codec's log-mel reconstruction L1 over the L1 of predicting each clip's
  frames by its mean frame (pooled over clips); 0 is perfect, 1 is no better than the mean frame.
* :func:`synthfoley_scores`: clean SynthFoley clips (mono) through encode → decode → vocoder, or through
  the front-end's mel → vocoder only (``codec=None``, the vocoder's ceiling), scored by the SynthFoley
  scorer (onset F1 and class accuracy; the mono mix is centred, so pan is not measured).
* :func:`corpus_scores`: per domain of the multi-domain corpus, log-mel L1, multi-resolution STFT
  distance and wide-band PESQ (speech, where ``pesq`` is installed) of any audio → audio rendering —
  the codec (:func:`codec_render`) or the vocoder alone (:func:`vocoder_render`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleyzoo.api import AudioCodec, Vocoder, Waveform
from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.codecs.melvae import MelVAE, mean_frame_l1
from foleyzoo.data.corpus import read_corpus_manifest
from foleyzoo.synthfoley.audio_datamodule import synth_audio
from foleyzoo.synthfoley.evaluation import ClipScorer
from foleyzoo.synthfoley.generator import SAMPLE_RATE, generate_clip
from foleyzoo.synthfoley.scorer import (
    GroundTruth,
    ScoreSummary,
)
from foleyzoo.vocoders.base import vocode_to_length
from foleyzoo.vocoders.losses import multi_resolution_stft

__all__ = [
    "codec_render",
    "corpus_scores",
    "mel_l1_ratio",
    "pesq_wb",
    "spectral_scores",
    "synthfoley_audio",
    "synthfoley_scores",
    "vocoder_render",
]

Render = Callable[[torch.Tensor], torch.Tensor]
"""Mono audio (1, 1, N) → rendered audio (1, 1, N') with N' <= N, aligned with the input's start."""


@torch.no_grad()
def mel_l1_ratio(codec: MelVAE, audio: torch.Tensor) -> dict[str, float]:
    """Reconstruction L1, mean-frame L1 and their ratio over mono clips ``audio`` (B, 1, N) at the codec's rate."""
    mel = codec.log_mel(Waveform(audio, codec.sample_rate))
    recon = codec.reconstruct(Waveform(audio, codec.sample_rate)).values[:, 0]
    l1 = (recon - mel).abs().mean(dim=(1, 2))
    baseline = mean_frame_l1(mel)
    return {
        "mel_l1": l1.mean().item(),
        "mean_frame_l1": baseline.mean().item(),
        "ratio": (l1.sum() / baseline.sum()).item(),
    }


def synthfoley_audio(seed: int, count: int, clean: bool, duration: float = 4.0) -> torch.Tensor:
    """(count, 1, N) mono SynthFoley sounds of clips ``(seed, 0..count-1)`` at 16 kHz."""
    return torch.stack([synth_audio(seed, index, duration, clean) for index in range(count)])


@torch.no_grad()
def synthfoley_scores(
    codec: AudioCodec | None, vocoder: Vocoder, seed: int, count: int, duration: float = 4.0
) -> ScoreSummary:
    """Score ``count`` clean clips of ``seed`` rendered mono through the codec and vocoder (or the vocoder alone)."""
    if vocoder.sample_rate != SAMPLE_RATE:
        raise ValueError(
            f"SynthFoley is scored at {SAMPLE_RATE} Hz; the vocoder renders {vocoder.sample_rate} Hz"
        )
    scorer = ClipScorer()
    frontend = MelFrontend(vocoder.mel_settings) if hasattr(vocoder, "mel_settings") else None
    for index in range(count):
        clip = generate_clip((seed, index), duration)
        samples = torch.from_numpy(clip.clean_audio).mean(dim=0, keepdim=True)[None]
        audio = Waveform(samples, SAMPLE_RATE)
        if codec is not None:
            frames = samples.shape[-1] // vocoder.hop_length + 1
            mel = codec.decode(codec.encode(audio))
            mel = type(mel)(mel.values[..., :frames], mel.sample_rate, mel.frame_rate)
        elif frontend is not None:
            mel = frontend.mel(audio)
        else:
            raise ValueError("vocoder-only scoring needs a vocoder with mel_settings (its front-end)")
        rendered = vocode_to_length(vocoder, mel, samples.shape[-1]).samples[0]
        truth = GroundTruth.from_json(clip.spec.to_json())
        scorer.add(rendered, truth, SAMPLE_RATE, stem=f"clip_{index:05d}")
    return scorer.summary()


def pesq_wb(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float:
    """Wide-band PESQ (MOS-LQO, about 1–4.6) of 16 kHz (N,) signals; NaN without the ``pesq`` package."""
    try:
        from pesq import pesq
    except ImportError:
        return math.nan
    if sample_rate != 16000:
        raise ValueError(f"wide-band PESQ needs 16 kHz audio, got {sample_rate} Hz")
    return float(pesq(sample_rate, reference.astype(np.float64), degraded.astype(np.float64), "wb"))


def spectral_scores(frontend: MelFrontend, out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Log-mel L1 and multi-resolution STFT distance of equal-length (1, C, N) signals."""
    return {
        "mel_l1": float((frontend(out) - frontend(target)).abs().mean()),
        "mrstft": float(multi_resolution_stft(out[0], target[0])),
    }


def vocoder_render(vocoder: Vocoder, frontend: MelFrontend) -> Render:
    """The vocoder-only ceiling: audio → the front-end's mel → vocoder."""

    def render(samples: torch.Tensor) -> torch.Tensor:
        return vocoder.vocode(frontend.mel(Waveform(samples, vocoder.sample_rate))).samples

    return render


def codec_render(codec: AudioCodec, vocoder: Vocoder) -> Render:
    """The codec's round trip: audio → encode → decode → vocoder, cut to the input's mel frames."""

    def render(samples: torch.Tensor) -> torch.Tensor:
        frames = samples.shape[-1] // vocoder.hop_length + 1
        mel = codec.decode(codec.encode(Waveform(samples, codec.sample_rate)))
        mel = type(mel)(mel.values[..., :frames], mel.sample_rate, mel.frame_rate)
        return vocoder.vocode(mel).samples

    return render


@torch.no_grad()
def corpus_scores(
    render: Render, frontend: MelFrontend, corpus_dir: str | Path, split: str = "eval"
) -> dict[str, dict[str, Any]]:
    """Domain → mean log-mel L1, MR-STFT distance (and PESQ for speech), with file and second counts."""
    from foleyzoo.io.media import read_audio

    rate = frontend.config.sample_rate
    per_domain: dict[str, list[dict[str, float]]] = defaultdict(list)
    for entry in read_corpus_manifest(corpus_dir, split):
        samples = read_audio(Path(corpus_dir) / entry.path, rate, channels=1)[None].float()
        out = render(samples)
        target = samples[..., : out.shape[-1]]
        scores = spectral_scores(frontend, out, target)
        if entry.domain == "speech" and rate == 16000:
            scores["pesq_wb"] = pesq_wb(target[0, 0].numpy(), out[0, 0].numpy(), rate)
        scores["seconds"] = target.shape[-1] / rate
        per_domain[entry.domain].append(scores)
    return {domain: _mean(rows) for domain, rows in sorted(per_domain.items())}


def _mean(rows: list[dict[str, float]]) -> dict[str, Any]:
    keys = sorted({key for row in rows for key in row if key != "seconds"})
    summary: dict[str, Any] = {key: float(np.mean([row[key] for row in rows if key in row])) for key in keys}
    summary.update(files=len(rows), seconds=round(sum(row["seconds"] for row in rows), 1))
    return summary
