"""How much a trained codec keeps: held-out log-mel L1 against a trivial baseline, and SynthFoley scores.

* :func:`mel_l1_ratio`: the codec's log-mel reconstruction L1 over the L1 of predicting each clip's
  frames by its mean frame (pooled over clips); 0 is perfect, 1 is no better than the mean frame.
* :func:`synthfoley_scores`: clean SynthFoley clips (mono) through encode → decode → vocoder, or through
  the front-end's mel → vocoder only (``codec=None``, the vocoder's ceiling), scored by the SynthFoley
  scorer (onset F1 and class accuracy; the mono mix is centred, so pan is not measured).
"""

from __future__ import annotations

import torch

from foleyzoo.api import AudioCodec, Vocoder, Waveform
from foleyzoo.codecs.mel import MelFrontend
from foleyzoo.codecs.melvae import MelVAE, mean_frame_l1
from foleyzoo.codecs.melvae_data import synth_audio
from foleyzoo.data.synthfoley.generator import SAMPLE_RATE, generate_clip
from foleyzoo.data.synthfoley.scorer import (
    GroundTruth,
    ScoreSummary,
    reference_profiles,
    score_clip,
    summarize,
)

__all__ = ["mel_l1_ratio", "synthfoley_audio", "synthfoley_scores"]


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
    profiles, scores = reference_profiles(), []
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
        rendered = vocoder.vocode(mel).samples[0]
        truth = GroundTruth.from_json(clip.spec.to_json())
        scores.append(score_clip(rendered, truth, SAMPLE_RATE, stem=f"clip_{index:05d}", profiles=profiles))
    return summarize(scores)
