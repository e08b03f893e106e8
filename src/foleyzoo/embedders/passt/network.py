"""PaSST (``passt_s_swa_p16_128_ap476``): the AudioSet transformer behind av-benchmark's FD-, KL- and IS-PaSST.

Koutini et al., "Efficient Training of Audio Transformers with Patchout" (arXiv 2110.05069). One 10 s
window of 32 kHz audio → a 128-band log-mel image → a ViT over 16×16 patches taken every 10 bins/frames,
with separate frequency and time position tables and two class tokens (class and distillation). The
embedding is the mean of the two tokens after the final norm (768 values), the logits the ``head`` on it
(527 AudioSet classes) — what the HEAR-21 wrapper returns in ``mode="all"`` (logits first, then the
embedding) and av-benchmark splits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import fit_length, resample, to_mono
from foleyzoo.embedders.weights import load_weights_file
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.testing import random_state_dict

__all__ = [
    "MANIFEST_PATH",
    "PaSST",
    "PaSSTMel",
    "PaSSTNetwork",
    "kaldi_mel_banks",
    "passt_random_state",
    "passt_window",
]

MANIFEST_PATH = Path(__file__).parents[1] / "manifests" / "passt.json"

SAMPLE_RATE = 32000
WINDOW_SAMPLES = 320000
"""av-benchmark feeds every clip as exactly 10 s: cut, or zero-padded at the end."""
N_FFT, WIN_LENGTH, HOP = 1024, 800, 320
N_MELS, MEL_LOW, MEL_HIGH = 128, 0.0, 15000.0
"""The wrapper leaves ``fmax`` unset, which its front end turns into 16 kHz − 2000 // 2 Hz."""
PREEMPHASIS = 0.97
LOG_FLOOR = 1e-5
MEL_SHIFT, MEL_SCALE = 4.5, 5.0
"""The front end's fixed normalisation: (log-mel + 4.5) / 5."""


def _kaldi_mel(hz: Tensor) -> Tensor:
    return 1127.0 * torch.log1p(hz / 700.0)


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: int, fmin: float, fmax: float) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangles evenly spaced on Kaldi's mel scale (1127·ln(1 + f/700)), unnormalised.

    Kaldi's banks span the FFT bins below Nyquist only; the Nyquist bin gets a zero column, so the
    matrix multiplies a full one-sided power spectrum. Computed in float64, returned as float32.
    """
    low, high = (
        _kaldi_mel(torch.tensor(fmin, dtype=torch.float64)),
        _kaldi_mel(torch.tensor(fmax, dtype=torch.float64)),
    )
    step = (high - low) / (n_mels + 1)
    edges = low + step * torch.arange(n_mels + 2, dtype=torch.float64)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = _kaldi_mel(torch.arange(n_fft // 2, dtype=torch.float64) * (sample_rate / n_fft))[None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    triangles = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return F.pad(triangles, (0, 1)).float()


class PaSSTMel(nn.Module):
    """(B, N) 32 kHz audio → (B, 128, frames) normalised log-mel, PaSST's front end in evaluation mode.

    Pre-emphasis (x[n+1] − 0.97·x[n], one sample shorter), power STFT (symmetric 800-sample Hann
    centred in a 1024-point FFT, hop 320, centred frames with reflect padding), Kaldi mel banks
    0–15 kHz, log(mel + 1e-5), then (· + 4.5) / 5. No weights: the window and the banks are fixed
    buffers that are not part of the checkpoint.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(WIN_LENGTH, periodic=False), persistent=False)
        banks = kaldi_mel_banks(N_MELS, N_FFT, SAMPLE_RATE, MEL_LOW, MEL_HIGH)
        self.register_buffer("mel_banks", banks, persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        emphasised = audio[:, 1:] - PREEMPHASIS * audio[:, :-1]
        spectrum = torch.stft(
            emphasised,
            N_FFT,
            hop_length=HOP,
            win_length=WIN_LENGTH,
            window=self.window.to(emphasised),
            center=True,
            return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()  # (B, 513, frames)
        mel = torch.matmul(self.mel_banks.to(power), power)
        return (torch.log(mel + LOG_FLOOR) + MEL_SHIFT) / MEL_SCALE


class PatchEmbed(nn.Module):
    """16×16 patches of the (B, 1, 128, T) spectrogram every 10 bins and 10 frames, projected to the width."""

    def __init__(self, width: int, patch: int = 16, stride: int = 10) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, width, kernel_size=patch, stride=stride)

    def forward(self, spectrogram: Tensor) -> Tensor:
        return self.proj(spectrogram)  # (B, width, frequency patches, time patches)


class Attention(nn.Module):
    """Multi-head self-attention with one fused q/k/v projection (names ``qkv`` and ``proj``)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v)  # softmax(q·kᵀ / √d)·v
        return self.proj(mixed.transpose(1, 2).reshape(batch, tokens, width))


class Mlp(nn.Module):
    """Two linear layers with an exact GELU between them."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)); LayerNorm eps 1e-6."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PaSSTNetwork(nn.Module):
    """PaSST-S (patch 16, stride 10, two tokens) with the parameter names of ``passt-s-f128-p16-s10-ap.476-swa.pt``.

    The position tables are sized for 128 × 998 inputs (12 frequency × 99 time patches); a shorter
    input uses the first time columns, as the original does. ``head`` is LayerNorm (eps 1e-5) then the
    527-way classifier, applied to the mean of the two tokens; ``head_dist`` is in the checkpoint but
    unused at inference. Patchout only acts in training, so it has no place here.
    """

    def __init__(
        self,
        width: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        classes: int = 527,
        grid: tuple[int, int] = (12, 99),
    ) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, width))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, width))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, width, grid[0], 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, width, 1, grid[1]))
        self.patch_embed = PatchEmbed(width)
        self.blocks = nn.Sequential(*(Block(width, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, classes))
        self.head_dist = nn.Linear(width, classes)

    def forward(self, spectrogram: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 1, 128, T) normalised log-mel → (embedding (B, 768), logits (B, 527))."""
        patches = self.patch_embed(spectrogram)
        patches = patches + self.time_new_pos_embed[..., : patches.shape[-1]] + self.freq_new_pos_embed
        tokens = patches.flatten(2).transpose(1, 2)  # frequency-major, as the original flattens
        batch = tokens.shape[0]
        cls = self.cls_token.expand(batch, -1, -1) + self.new_pos_embed[:, :1]
        dist = self.dist_token.expand(batch, -1, -1) + self.new_pos_embed[:, 1:]
        x = self.norm(self.blocks(torch.cat([cls, dist, tokens], dim=1)))
        embedding = (x[:, 0] + x[:, 1]) / 2
        return embedding, self.head(embedding)


def passt_window(inputs: Waveform) -> Tensor:
    """(B, C, N) audio at any rate → (B, 320000) float32: mono, 32 kHz, cut or zero-padded to the 10 s window."""
    audio = resample(to_mono(inputs.samples.float())[:, 0], inputs.sample_rate, SAMPLE_RATE)
    return fit_length(audio, WINDOW_SAMPLES)


@cache
def _manifest() -> dict[str, object]:
    return json.loads(MANIFEST_PATH.read_text())


def passt_random_state(seed: int) -> dict[str, Tensor]:
    """Seeded random weights in the published file's keys and shapes (for parity tests, never for metrics).

    :func:`~foleyzoo.zoo.testing.random_state_dict`, with the LayerNorm gains of the blocks and of the
    head moved near 1 (1 + N(0, 0.1²)) so that signals keep their scale through twelve blocks.
    """
    state = random_state_dict(PaSST.official_shapes(), seed)
    for key, value in state.items():
        if key.endswith(("norm1.weight", "norm2.weight", "head.0.weight")):
            state[key] = 1.0 + 0.5 * value
    return state


class PaSST(Embedder):
    """PaSST from ``passt-s-f128-p16-s10-ap.476-swa.pt``: audio → 768-d embedding and 527 AudioSet logits.

    ``embed`` takes audio loaded the av-benchmark way (mono, mean removed, 32 kHz, cut to the evaluation
    length, never padded) and does what av-benchmark does next: cut or zero-pad to 320000 samples,
    the log-mel front end, the network. Stereo is mixed to mono and another rate resampled (windowed
    sinc) rather than refused. FD-PaSST uses the embedding, KL- and IS-PaSST the logits.
    """

    modality = "audio"
    sample_rate = SAMPLE_RATE
    weights_file = "passt-s-f128-p16-s10-ap.476-swa.pt"
    weights_url = "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt"
    weights_licence = "Apache-2.0, the licence of the PaSST code repositories; no separate licence is stated for the weights"
    published_sha256 = "302903fa8c4aee817b11dc982da0b29aaf8d11a3e722420476d0a12c9db70c2c"
    """Not published by the authors: the hash that several independent projects pin for this release asset."""

    def __init__(self, checkpoint: str) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        if not Path(self.checkpoint).is_file():
            raise ConfigError(
                f"{self.checkpoint}: PaSST weights file not found; PaSST metrics need {self.weights_file} "
                f"(PaSST-S trained on AudioSet, the network of av-benchmark's FD/KL/IS-PaSST), "
                f"published at {self.weights_url}"
            )
        self.mel = PaSSTMel()
        self.model = load_weights_file(PaSSTNetwork(), self.checkpoint, f"PaSST ({self.weights_file})")
        self.eval()

    @classmethod
    def official_shapes(cls) -> dict[str, list[int]]:
        """Every key of the published file and its shape, from the manifest."""
        keys = _manifest()["keys"]
        assert isinstance(keys, dict)
        return {key: list(shape) for key, shape in keys.items()}

    def train(self, mode: bool = True) -> PaSST:
        return super().train(False)  # an evaluation network: never in training mode

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"PaSST embeds a Waveform, got {type(inputs).__name__}")
        weight = self.model.head_dist.weight
        audio = passt_window(inputs).to(device=weight.device)
        spectrogram = self.mel(audio)[:, None]
        embedding, logits = self.model(spectrogram.to(weight.dtype))
        return Embedding(values=embedding.float(), logits=logits.float())
