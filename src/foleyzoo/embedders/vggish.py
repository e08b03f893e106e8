"""VGGish: a 128-d embedding a 0.96 s of 16 kHz audio; av-benchmark's FD-VGG (FAD) pools every example's embedding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import prepare_audio
from foleyzoo.embedders.weights import load_weights_file

__all__ = ["VGGish", "VGGishNetwork", "vggish_examples", "vggish_mel_matrix"]

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512  # the next power of two above the window
MEL_BANDS, MEL_LOW, MEL_HIGH = 64, 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s, examples do not overlap


def _htk_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def vggish_mel_matrix() -> np.ndarray:
    """(FFT // 2 + 1, 64) triangular HTK-mel weights from 125 Hz to 7.5 kHz, unnormalised, DC bin zero (VGGish's)."""
    bins = FFT // 2 + 1
    spectrum_mel = _htk_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins))
    edges = np.linspace(_htk_mel(MEL_LOW), _htk_mel(MEL_HIGH), MEL_BANDS + 2)
    weights = np.zeros((bins, MEL_BANDS))
    for band in range(MEL_BANDS):
        lower, centre, upper = edges[band : band + 3]
        rising = (spectrum_mel - lower) / (centre - lower)
        falling = (upper - spectrum_mel) / (upper - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def vggish_examples(audio: Tensor) -> Tensor:
    """Mono 16 kHz audio (B, N) → log-mel examples (B, K, 1, 96, 64), K = whole 0.96 s examples (≥ 1).

    As VGGish's ``waveform_to_examples``: frames of 400 samples every 160 (no padding), |rfft| of the
    periodic-Hann-windowed frame (magnitude, not power) through the mel matrix, log(mel + 0.01), then
    non-overlapping runs of 96 frames. Audio shorter than one example is zero-padded to it.
    """
    need = WINDOW + HOP * (EXAMPLE_FRAMES - 1)
    if audio.shape[-1] < need:
        audio = torch.nn.functional.pad(audio, (0, need - audio.shape[-1]))
    audio = audio.double()
    frames = audio.unfold(-1, WINDOW, HOP)  # (B, T, 400)
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(WINDOW, dtype=torch.float64) / WINDOW)
    magnitude = torch.fft.rfft(frames * window, n=FFT).abs()
    mel = magnitude @ torch.from_numpy(vggish_mel_matrix()).to(magnitude)
    log_mel = torch.log(mel + LOG_OFFSET)
    count = 1 + (log_mel.shape[1] - EXAMPLE_FRAMES) // EXAMPLE_FRAMES
    examples = log_mel[:, : count * EXAMPLE_FRAMES].unflatten(1, (count, EXAMPLE_FRAMES))
    return examples[:, :, None].float()


class VGGishNetwork(nn.Module):
    """VGGish's VGG stack with the parameter names of the PyTorch port's ``vggish-10086976.pth``.

    ``features.{0,3,6,8,11,13}`` are the convolutions, ``embeddings.{0,2,4}`` the fully connected layers
    (a ReLU after the last one too, as in that port, unless ``final_relu`` is False: av-benchmark removes
    it, following audioldm_eval, so its FD-VGG embeddings can be negative); no PCA post-processing
    (av-benchmark leaves it off). ``widths`` shrink the network for tests; the published one is
    (64, 128, 256, 512, 4096, 128).
    """

    def __init__(
        self, widths: Sequence[int] = (64, 128, 256, 512, 4096, 128), final_relu: bool = True
    ) -> None:
        super().__init__()
        c1, c2, c3, c4, hidden, out = widths
        layers: list[nn.Module] = []
        channels = 1
        for value in (c1, "M", c2, "M", c3, c3, "M", c4, c4, "M"):
            if value == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(value), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = int(value)
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [
            nn.Linear(c4 * 4 * 6, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, out),
        ]
        self.embeddings = nn.Sequential(*head, *([nn.ReLU(True)] if final_relu else []))

    def forward(self, examples: Tensor) -> Tensor:
        """Log-mel examples (N, 1, 96, 64) → embeddings (N, 128)."""
        x = self.features(examples)  # (N, C, 6, 4)
        x = x.permute(0, 2, 3, 1).contiguous()  # channels last, as the TensorFlow original flattens
        return self.embeddings(x.flatten(1))


class VGGish(Embedder):
    """VGGish from a local weights file: audio → the mean of its 0.96 s examples' 128-d embeddings.

    :meth:`embed_examples` keeps one embedding an example (B, K, 128), which is what av-benchmark's
    FD-VGG pools. Audio is mixed to mono and resampled to 16 kHz; ``duration`` cuts or pads it first.
    ``final_relu=False`` drops the ReLU after the last layer, as av-benchmark does (same weights file).
    """

    modality = "audio"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        checkpoint: str,
        widths: Sequence[int] = (64, 128, 256, 512, 4096, 128),
        duration: float | None = None,
        final_relu: bool = True,
    ) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.duration = duration
        self.model = load_weights_file(VGGishNetwork(widths, final_relu), self.checkpoint, "VGGish")

    def train(self, mode: bool = True) -> VGGish:
        return super().train(False)

    @torch.no_grad()
    def embed_examples(self, inputs: Waveform) -> Tensor:
        """(B, C, N) audio → (B, K, 128): one embedding each whole 0.96 s example."""
        if not isinstance(inputs, Waveform):
            raise TypeError(f"VGGish embeds a Waveform, got {type(inputs).__name__}")
        audio = prepare_audio(inputs.samples, inputs.sample_rate, SAMPLE_RATE, self.duration)[:, 0]
        examples = vggish_examples(audio)
        weight = self.model.embeddings[0].weight
        values = self.model(examples.flatten(0, 1).to(weight))
        return values.unflatten(0, examples.shape[:2]).float()

    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"VGGish embeds a Waveform, got {type(inputs).__name__}")
        return Embedding(values=self.embed_examples(inputs).mean(dim=1))
