"""PANNs CNN14: an AudioSet tagger whose 2048-d embedding and 527 logits give FD-PANNs, KL-PANNs and IS-PANNs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import prepare_audio
from foleyzoo.embedders.weights import load_weights_file

__all__ = ["Cnn14", "PANNsCNN14", "slaney_mel_filterbank"]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(
        hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp
    )


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def slaney_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels): ``librosa.filters.mel(...).T`` (Slaney scale and area norm), as torchlibrosa stores it."""
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    gaps = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


class _STFT(nn.Module):
    """torchlibrosa's STFT: DFT rows times a periodic Hann window as two frozen 1-D convolutions."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        bins = n_fft // 2 + 1
        n = np.arange(n_fft)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)  # periodic Hann (fftbins=True)
        angle = 2 * np.pi * np.outer(np.arange(bins), n) / n_fft
        self.conv_real = nn.Conv1d(1, bins, n_fft, stride=hop_length, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, n_fft, stride=hop_length, bias=False)
        self.conv_real.weight.data = torch.from_numpy(np.cos(angle) * window).float()[:, None]
        self.conv_imag.weight.data = torch.from_numpy(-np.sin(angle) * window).float()[:, None]


class _Spectrogram(nn.Module):
    """Power spectrogram (B, 1, T, F) of (B, N) audio, centred frames with reflect padding."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.stft = _STFT(n_fft, hop_length)

    def forward(self, audio: Tensor) -> Tensor:
        x = F.pad(audio[:, None], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        real, imag = self.stft.conv_real(x), self.stft.conv_imag(x)  # (B, F, T)
        return (real.square() + imag.square()).transpose(1, 2)[:, None]


class _LogmelFilterBank(nn.Module):
    """Power spectrogram → 10·log10(max(mel power, 1e-10)) (ref 1, no top_db), as torchlibrosa computes it."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> None:
        super().__init__()
        weights = slaney_mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        self.melW = nn.Parameter(torch.from_numpy(weights), requires_grad=False)

    def forward(self, power: Tensor) -> Tensor:
        return 10.0 * torch.log10(torch.clamp(power @ self.melW, min=1e-10))


class ConvBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and ReLU, then 2-D average pooling (PANNs' ConvBlock)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor, pool_size: tuple[int, int] = (2, 2)) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool_size)


class Cnn14(nn.Module):
    """PANNs CNN14 with the parameter names of the published checkpoints (``Cnn14_16k_mAP=0.438.pth`` etc.).

    Defaults are the 16 kHz model av-benchmark uses (512-sample window, hop 160, 64 mel bands from
    50 Hz to 8 kHz); ``Cnn14_mAP=0.431.pth`` is ``sample_rate=32000, window_size=1024, hop_size=320,
    fmax=14000``. ``widths`` are the six blocks' channels (the published ones unless a test shrinks them).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        window_size: int = 512,
        hop_size: int = 160,
        mel_bins: int = 64,
        fmin: float = 50.0,
        fmax: float = 8000.0,
        classes_num: int = 527,
        widths: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"CNN14 has six conv blocks, got {len(widths)} widths")
        self.spectrogram_extractor = _Spectrogram(window_size, hop_size)
        self.logmel_extractor = _LogmelFilterBank(sample_rate, window_size, mel_bins, fmin, fmax)
        self.bn0 = nn.BatchNorm2d(mel_bins)
        channels = [1, *widths]
        for index in range(6):
            setattr(self, f"conv_block{index + 1}", ConvBlock(channels[index], channels[index + 1]))
        self.fc1 = nn.Linear(widths[-1], widths[-1], bias=True)
        self.fc_audioset = nn.Linear(widths[-1], classes_num, bias=True)

    def forward(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N) waveform → (embedding (B, 2048), logits (B, 527)), in eval mode (no dropout)."""
        x = self.logmel_extractor(self.spectrogram_extractor(audio))  # (B, 1, T, mel)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for index in range(6):
            block: ConvBlock = getattr(self, f"conv_block{index + 1}")
            x = block(x, pool_size=(2, 2) if index < 5 else (1, 1))
        x = x.mean(dim=3)
        x = x.max(dim=2).values + x.mean(dim=2)
        hidden = F.relu(self.fc1(x))
        return hidden, self.fc_audioset(hidden)


class PANNsCNN14(Embedder):
    """CNN14 from a local checkpoint file: audio → 2048-d embedding (``fc1`` after ReLU) and 527 AudioSet logits.

    av-benchmark's FD-PANNs uses the embedding, KL-PANNs and IS-PANNs the logits (before the sigmoid).
    Audio is mixed to mono and resampled to the model's rate; ``duration`` (seconds) cuts or zero-pads it
    first when given. ``checkpoint`` is a ``.pth`` (read with ``weights_only=True``; the published files
    nest the weights under ``"model"``) or a ``.safetensors`` file; the keyword arguments describe the
    architecture it was trained with (see :class:`Cnn14`).
    """

    modality = "audio"

    def __init__(
        self,
        checkpoint: str,
        sample_rate: int = 16000,
        window_size: int = 512,
        hop_size: int = 160,
        mel_bins: int = 64,
        fmin: float = 50.0,
        fmax: float = 8000.0,
        classes_num: int = 527,
        widths: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
        duration: float | None = None,
    ) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.sample_rate, self.duration = sample_rate, duration
        model = Cnn14(sample_rate, window_size, hop_size, mel_bins, fmin, fmax, classes_num, widths)
        self.model = load_weights_file(model, self.checkpoint, "PANNs CNN14")

    def train(self, mode: bool = True) -> PANNsCNN14:
        return super().train(False)  # an evaluation network: batch norm and dropout stay in eval mode

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"PANNsCNN14 embeds a Waveform, got {type(inputs).__name__}")
        weight = self.model.fc1.weight
        audio = prepare_audio(inputs.samples, inputs.sample_rate, self.sample_rate, self.duration)
        embedding, logits = self.model(audio[:, 0].to(weight))
        return Embedding(values=embedding.float(), logits=logits.float())
