"""ImageBind's audio input as av-benchmark builds it: three 2 s clips of a 16 kHz file → normalised log-mels.

The clips start at 0, (d − 2)/2 and d − 2 seconds of a file lasting d seconds (all at 0 when d ≤ 2;
pytorchvideo's ``ConstantClipsPerVideoSampler`` in exact fractions, samples cut with ``int``). Each clip of
every channel has the clip's mean over all channels subtracted *in place*, so where clips overlap (files
shorter than 6 s) a later clip sees samples an earlier one already shifted. The Kaldi filterbank then reads
channel 0 only: frames of 25 ms every 10 ms (no edge padding), frame DC removed, pre-emphasis 0.97,
symmetric Hann window, 512-point power spectrum (all in float32, as the reference), 128 Kaldi mel bands from 20 Hz to 8 kHz, log floored at
float32's eps; 204 frames (zero-padded or cut), then (x + 4.268) / 9.138.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["clip_bounds", "imagebind_log_mels", "kaldi_log_mel", "kaldi_mel_matrix"]

SAMPLE_RATE = 16000
CLIP_SECONDS = 2
CLIPS = 3
FRAME, SHIFT, FFT = 400, 160, 512
MEL_BANDS, MEL_LOW = 128, 20.0
PREEMPHASIS = 0.97
TARGET_FRAMES = 204
MEL_MEAN, MEL_STD = -4.268, 9.138
LOG_FLOOR = float(torch.finfo(torch.float32).eps)


def clip_bounds(length: int, sample_rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """[(start, end)] sample indices of the clips of a ``length``-sample file (end may pass the file's end)."""
    latest = Fraction(max(length / sample_rate - CLIP_SECONDS, 0))
    step = latest / max(CLIPS - 1, 1)
    bounds = []
    for index in range(CLIPS):
        start = step * index
        bounds.append((int(start * sample_rate), int((start + CLIP_SECONDS) * sample_rate)))
        if step * (index + 1) > latest:  # the sampler stops early when the next start would pass the end
            break
    return bounds


def _kaldi_mel(hz: Tensor | float) -> Tensor | float:
    if isinstance(hz, Tensor):
        return 1127.0 * torch.log(1.0 + hz / 700.0)
    return 1127.0 * math.log(1.0 + hz / 700.0)


@functools.lru_cache(maxsize=2)
def kaldi_mel_matrix(sample_rate: int = SAMPLE_RATE) -> Tensor:
    """(FFT // 2 + 1, 128) float32 triangular Kaldi mel weights (20 Hz – Nyquist), zero on the Nyquist bin.

    Band edges are equally spaced on 1127·ln(1 + f/700) between the mel of 20 Hz and of Nyquist (scalars in
    double precision), the triangles evaluated in float32 as the reference does, so the weights agree bit for bit.
    """
    low, high = _kaldi_mel(MEL_LOW), _kaldi_mel(sample_rate / 2)
    delta = (high - low) / (MEL_BANDS + 1)
    band = torch.arange(MEL_BANDS, dtype=torch.float32)[:, None]
    left, centre, right = low + band * delta, low + (band + 1.0) * delta, low + (band + 2.0) * delta
    bin_mel = _kaldi_mel((sample_rate / FFT) * torch.arange(FFT // 2, dtype=torch.float32))[None]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (128, 256)
    return F.pad(weights, (0, 1)).T.contiguous()  # the Nyquist bin gets no weight


def kaldi_log_mel(samples: Tensor, sample_rate: int = SAMPLE_RATE) -> Tensor:
    """Mono samples (N,) ≥ one frame long → (frames, 128) log mel energies, in float32 like the reference.

    float32 on purpose: the narrow low bands sit on a few weak bins, where float32 and float64 differ by up
    to 5e-4 in the log; following the reference's precision keeps that noise out of the comparison.
    """
    frames = samples.float().unfold(0, FRAME, SHIFT)
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - PREEMPHASIS * previous
    window = torch.hann_window(FRAME, periodic=False, dtype=torch.float32)
    power = torch.fft.rfft(F.pad(frames * window, (0, FFT - FRAME))).abs().pow(2.0)
    mel = power @ kaldi_mel_matrix(sample_rate)
    return mel.clamp(min=LOG_FLOOR).log()


def imagebind_log_mels(samples: Tensor, sample_rate: int = SAMPLE_RATE) -> Tensor:
    """One file's channels (C, N) at 16 kHz → (3, 1, 128, 204) float32 normalised log-mel clips."""
    if samples.dim() != 2:
        raise ValueError(f"expected one file's samples as (channels, samples), got {tuple(samples.shape)}")
    work = samples.float().clone()
    clips = []
    for start, end in clip_bounds(work.shape[1], sample_rate):
        piece = work[:, start:end]
        piece -= piece.mean()  # in place: later overlapping clips see the shifted samples
        mel = kaldi_log_mel(piece[0], sample_rate).T  # (128, frames)
        mel = F.pad(mel, (0, TARGET_FRAMES - mel.shape[1])) if mel.shape[1] < TARGET_FRAMES else mel
        clips.append(mel[:, :TARGET_FRAMES])
    stacked = torch.stack(clips)[:, None]
    return ((stacked - MEL_MEAN) / MEL_STD).float()
