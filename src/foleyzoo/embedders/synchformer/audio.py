"""Synchformer's audio feature extractor: 16 kHz audio → 6 features of 768 per 0.64 s segment.

The audio is cut into overlapping 10240-sample segments (one every 5120 samples); each becomes a
128-band log-mel spectrogram of 66 frames, normalised with fixed constants, and goes through an Audio
Spectrogram Transformer (AST, 16×16 patches every 10 bins / frames: 12 frequency × 6 time patches).
The 12 patches of each time step are then pooled into one feature by a transformer layer with its own
class token. The modules carry the parameter names of the published ``afeat_extractor.*`` keys.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from foleyzoo.encoders.sync.synchformer import ClassTokenPooling

__all__ = [
    "SEGMENT_SAMPLES",
    "SEGMENT_STEP_SAMPLES",
    "AudioFeatureExtractor",
    "SyncLogMel",
    "cut_audio_segments",
]

SAMPLE_RATE = 16000
SEGMENT_SAMPLES, SEGMENT_STEP_SAMPLES = 10240, 5120
"""A segment's samples (0.64 s) and the samples between segment starts."""
N_FFT, WIN_LENGTH, HOP_LENGTH, N_MELS = 1024, 400, 160, 128
SPEC_FRAMES = 66
"""Frames each segment's spectrogram is padded (or cut) to: 65 frames of a centred STFT, plus one of zeros."""
LOG_OFFSET = 1e-6
SPEC_MEAN, SPEC_STD = -4.2677393, 4.5689974
"""Synchformer's fixed log-mel statistics; features are (x − mean) / (2 · std)."""
DIM, HEADS, DEPTH, MLP_DIM = 768, 12, 12, 3072
PATCH, STRIDE = 16, 10
AST_NORM_EPS, POOL_NORM_EPS = 1e-12, 1e-6


def count_audio_segments(samples: int) -> int:
    """Segments of ``samples`` samples: ``(samples − 10240) // 5120 + 1`` (none below 10240)."""
    return max(0, (samples - SEGMENT_SAMPLES) // SEGMENT_STEP_SAMPLES + 1)


def cut_audio_segments(audio: Tensor) -> Tensor:
    """(B, N) → (B, S, 10240): segment k holds samples ``[5120 k, 5120 k + 10240)``; a tail too short for a
    whole segment is left out."""
    count = count_audio_segments(audio.shape[-1])
    if count < 1:
        raise ValueError(f"Synchformer needs at least {SEGMENT_SAMPLES} samples, got {audio.shape[-1]}")
    return audio.unfold(-1, SEGMENT_SAMPLES, SEGMENT_STEP_SAMPLES)[:, :count]


def htk_mel_filters(n_freqs: int, n_mels: int, sample_rate: int, f_max: float) -> Tensor:
    """(n_freqs, n_mels) triangular filters on the HTK mel scale from 0 Hz to ``f_max``, unnormalised
    (the bank of ``torchaudio.transforms.MelSpectrogram``'s defaults), computed in float32 as it does."""
    top_mel = 2595.0 * math.log10(1.0 + f_max / 700.0)
    edges = 700.0 * (10.0 ** (torch.linspace(0.0, top_mel, n_mels + 2) / 2595.0) - 1.0)
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    widths = edges[1:] - edges[:-1]
    offsets = edges[None, :] - freqs[:, None]
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


class SyncLogMel(nn.Module):
    """Segments (..., 10240) → Synchformer's normalised log-mel (..., 128, 66).

    Power spectrogram of a centred, reflect-padded STFT (1024-point FFT, 400-sample periodic Hann window
    centred in it, hop 160), HTK mel bands without normalisation, ``log(x + 1e-6)``, one zero frame
    appended (66 frames), then ``(x + 4.2677393) / (2 · 4.5689974)``: the padding frame is normalised too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(WIN_LENGTH), persistent=False)
        filters = htk_mel_filters(N_FFT // 2 + 1, N_MELS, SAMPLE_RATE, SAMPLE_RATE / 2)
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, segments: Tensor) -> Tensor:
        flat = segments.reshape(-1, segments.shape[-1])
        spectrum = torch.stft(
            flat,
            N_FFT,
            hop_length=HOP_LENGTH,
            win_length=WIN_LENGTH,
            window=self.window.to(flat),
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        power = spectrum.abs().pow(2.0)
        mel = torch.matmul(power.transpose(-1, -2), self.filters.to(power)).transpose(-1, -2)
        mel = torch.log(mel + LOG_OFFSET)
        frames = mel.shape[-1]
        mel = F.pad(mel, (0, SPEC_FRAMES - frames)) if frames < SPEC_FRAMES else mel[..., :SPEC_FRAMES]
        mel = (mel - SPEC_MEAN) / (2 * SPEC_STD)
        return mel.reshape(*segments.shape[:-1], *mel.shape[-2:])


# --------------------------------------------------------------------------- the AST encoder


class PatchProjection(nn.Module):
    """``patch_embeddings``: 16×16 spectrogram patches every 10 bins and 10 frames → tokens, frequency-major."""

    def __init__(self) -> None:
        super().__init__()
        self.projection = nn.Conv2d(1, DIM, kernel_size=PATCH, stride=STRIDE)

    def forward(self, spec: Tensor) -> Tensor:
        """(N, 128, T) mel × frames → (N, f · t, D), token index ``i · t + j`` for frequency i, time j."""
        return self.projection(spec[:, None]).flatten(2).transpose(1, 2)


class SpectrogramEmbeddings(nn.Module):
    """Class and distillation tokens in front of the patch tokens, plus learned positions (74 for 66 frames)."""

    def __init__(self, positions: int) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.patch_embeddings = PatchProjection()
        self.position_embeddings = nn.Parameter(torch.zeros(1, positions, DIM))

    def forward(self, spec: Tensor) -> Tensor:
        tokens = self.patch_embeddings(spec)
        front = torch.cat([self.cls_token, self.distillation_token], dim=1).expand(tokens.shape[0], -1, -1)
        return torch.cat([front, tokens], dim=1) + self.position_embeddings


class SeparateQKV(nn.Module):
    """Three projections ``query``/``key``/``value`` (AST's ``attention.attention``)."""

    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(DIM, DIM)
        self.key = nn.Linear(DIM, DIM)
        self.value = nn.Linear(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = (
            rearrange(proj(x), "n l (h d) -> n h l d", h=HEADS) for proj in (self.query, self.key, self.value)
        )
        return rearrange(F.scaled_dot_product_attention(q, k, v), "n h l d -> n l (h d)")


class DenseLayer(nn.Module):
    """One linear layer named ``dense`` (the HF module nesting the published keys follow)."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim_in, dim_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.dense(x)


class SpectrogramAttention(nn.Module):
    """Multi-head self-attention and its output projection (``attention.attention``, ``attention.output``)."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = SeparateQKV()
        self.output = DenseLayer(DIM, DIM)

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.attention(x))


class SpectrogramLayer(nn.Module):
    """Pre-norm transformer layer: attention, then a GELU MLP (``intermediate``, ``output``), both residual."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = SpectrogramAttention()
        self.intermediate = DenseLayer(DIM, MLP_DIM)
        self.output = DenseLayer(MLP_DIM, DIM)
        self.layernorm_before = nn.LayerNorm(DIM, eps=AST_NORM_EPS)
        self.layernorm_after = nn.LayerNorm(DIM, eps=AST_NORM_EPS)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.layernorm_before(x))
        return x + self.output(F.gelu(self.intermediate(self.layernorm_after(x))))


class LayerStack(nn.Module):
    """The 12 layers under ``encoder.layer``."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.ModuleList(SpectrogramLayer() for _ in range(DEPTH))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layer:
            x = layer(x)
        return x


class SpectrogramTransformer(nn.Module):
    """AST (ViT-B over spectrogram patches) for 66-frame inputs: ``embeddings``, ``encoder``, ``layernorm``."""

    def __init__(self, frames: int = SPEC_FRAMES) -> None:
        super().__init__()
        self.grid = ((N_MELS - PATCH) // STRIDE + 1, (frames - PATCH) // STRIDE + 1)
        self.embeddings = SpectrogramEmbeddings(2 + self.grid[0] * self.grid[1])
        self.encoder = LayerStack()
        self.layernorm = nn.LayerNorm(DIM, eps=AST_NORM_EPS)

    def forward(self, spec: Tensor) -> Tensor:
        """(N, 128, T) → patch tokens after the final norm, laid out (N, f, t, D) (aux tokens dropped)."""
        x = self.layernorm(self.encoder(self.embeddings(spec)))
        return rearrange(x[:, 2:], "n (f t) d -> n f t d", f=self.grid[0])


class AudioFeatureExtractor(nn.Module):
    """``afeat_extractor``: normalised log-mel segments (B, S, 128, 66) → (B, S, 6, 768).

    AST over each segment, then, for each of the 6 time steps, its 12 frequency patches pooled into one
    feature by ``freq_attn_agg`` (a pre-norm transformer layer with a class token, only the class token kept).
    """

    def __init__(self) -> None:
        super().__init__()
        self.ast = SpectrogramTransformer()
        self.freq_attn_agg = ClassTokenPooling(DIM, HEADS, MLP_DIM / DIM)

    def forward(self, spec: Tensor) -> Tensor:
        batch = spec.shape[0]
        tokens = self.ast(spec.flatten(0, 1))  # (B·S, f, t, D)
        steps = tokens.shape[2]
        pooled = self.freq_attn_agg(rearrange(tokens, "n f t d -> (n t) f d"))
        return rearrange(pooled, "(b s t) d -> b s t d", b=batch, t=steps)
