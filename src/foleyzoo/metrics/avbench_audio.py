"""Reading audio files the way av-benchmark does, so its networks see the very samples they see there.

av-benchmark reads a file with ``torchaudio.load`` (every channel, the file's own rate, float32 in [-1, 1]),
then, depending on the network:

* most networks (PANNs, VGGish, PaSST, LAION-CLAP): the mean of the channels, minus the mean of the
  whole file (DC removal, before any cut), resampled with ``torchaudio.transforms.Resample``'s
  Hann-windowed sinc, then cut to the evaluation length and never padded (:func:`load_mono`);
* Synchformer (DeSync): the mean of the channels, resampled, cut; no DC removal, and a file shorter
  than the length is not used (:func:`load_mono` with ``remove_dc=False``, then :func:`long_enough`);
* ImageBind (IB-score): every channel, resampled, the whole file (:func:`load_channels`); the
  network keeps channel 0 and removes each 2 s clip's mean itself.

foleyzoo decodes with PyAV (FFmpeg), which converts integer PCM to float exactly as torchaudio's
FFmpeg-based reader does (s16 · 2⁻¹⁵, s32 · 2⁻³¹), and resamples with
:func:`foleyzoo.data.audio.resample`, the same windowed sinc as torchaudio's defaults, its kernel computed
with the float32 steps of ``torchaudio.transforms.Resample`` (or of ``torchaudio.functional.resample`` for
ImageBind's loader), so that the samples agree to float32 round-off.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch
from torch import Tensor

from foleyzoo.data.audio import resample
from foleyzoo.errors import MediaError

__all__ = ["AUDIO_SUFFIXES", "load_channels", "load_mono", "long_enough", "read_native"]

AUDIO_SUFFIXES = (".wav", ".flac")
"""The files av-benchmark's extraction lists in a folder (``*.wav`` and ``*.flac``); others are ignored."""


def read_native(path: Path) -> tuple[Tensor, int]:
    """Every channel of the first audio stream at the file's own rate: ((C, N) float32, rate)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: no audio stream")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            layout = stream.codec_context.layout
            converter = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            blocks = []
            for frame in container.decode(stream):
                for converted in converter.resample(frame):
                    blocks.append(converted.to_ndarray())
            blocks.extend(converted.to_ndarray() for converted in converter.resample(None))
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: cannot decode the audio ({exc})") from exc
    if not blocks:
        raise MediaError(f"{path}: the audio stream holds no samples")
    samples = np.concatenate(blocks, axis=1).astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        raise MediaError(f"{path}: the audio holds NaN or infinite samples")
    return torch.from_numpy(samples), int(rate)


def load_mono(path: Path, rate: int, duration: float | None, remove_dc: bool = True) -> Tensor:
    """(N,) mono audio at ``rate``: channel mean, minus its mean over the whole file, resampled, cut to ``duration``.

    ``remove_dc=False`` keeps the offset (av-benchmark's Synchformer loader). The cut keeps the first
    ``int(rate · duration)`` samples, av-benchmark's rule; a shorter file stays shorter.
    """
    samples, native = read_native(path)
    mono = samples.mean(dim=0)
    if remove_dc:
        mono = mono - mono.mean()
    mono = resample(mono, native, rate, precision="torchaudio-transform")
    return mono if duration is None else mono[: int(rate * duration)]


def load_channels(path: Path, rate: int) -> Tensor:
    """(C, N): every channel, resampled to ``rate``, the whole file (av-benchmark's ImageBind audio)."""
    samples, native = read_native(path)
    return resample(samples, native, rate, precision="torchaudio-functional")


def long_enough(samples: Tensor, rate: int, duration: float) -> bool:
    """Whether a clip holds the ``int(rate · duration)`` samples a fixed-length network needs (DeSync)."""
    return samples.shape[-1] >= int(rate * duration)
