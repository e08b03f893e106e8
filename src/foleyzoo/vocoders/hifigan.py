"""HiFi-GAN generator (Kong et al., 2020) for pretrained weights: V1/V2 (ResBlock1) and V3 (ResBlock2).

The module tree and parameter names follow the official implementation (``conv_pre``, ``ups.N``,
``resblocks.N.convs1.M``/``convs2.M`` or ``resblocks.N.convs.M``, ``conv_post``), so a ``generator``
checkpoint of jik876/hifi-gan loads after its weight-norm pairs are folded into plain weights.
Inference only: there is no training code here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Vocoder
from foleyzoo.codecs.mel import MelConfig
from foleyzoo.vocoders.base import MelVocoderMixin
from foleyzoo.vocoders.weights import check_fits, fold_weight_norm, read_state_dict

LRELU_SLOPE = 0.1


def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """V1/V2 residual block: per dilation, lrelu → dilated conv → lrelu → conv, added back; (B, C, N) → same."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=_padding(kernel)) for _ in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """V3 residual block: per dilation, lrelu → dilated conv, added back; (B, C, N) → same."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)) for d in dilations
        )

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class HiFiGANVocoder(MelVocoderMixin, Vocoder):
    """Log-mel (B, C, n_mels, T) → waveform (B, C, (T - 1) * hop) with a HiFi-GAN generator.

    The generator emits T · hop samples; the last hop is dropped so every foleyzoo vocoder returns the
    length of a centred STFT's source. Defaults are HiFi-GAN V1 (22.05 kHz, hop 256); the product of
    ``upsample_rates`` must equal ``hop_length``. ``checkpoint`` names a local ``generator`` file
    (``.pt``/``.pth``/``.bin``/``.safetensors``) in the official layout.
    """

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = 8000.0,
        resblock: str = "1",
        upsample_rates: Sequence[int] = (8, 8, 2, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4),
        upsample_initial_channel: int = 512,
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        checkpoint: str | None = None,
    ) -> None:
        super().__init__()
        self.mel_settings = MelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
        )
        if int(torch.tensor(list(upsample_rates)).prod()) != hop_length:
            raise ValueError(
                f"upsample_rates {tuple(upsample_rates)} must multiply to hop_length {hop_length}"
            )
        if resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' (V1/V2) or '2' (V3), got {resblock!r}")
        block = ResBlock1 if resblock == "1" else ResBlock2
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = nn.Conv1d(n_mels, upsample_initial_channel, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = upsample_initial_channel
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes, strict=True):
            self.ups.append(
                nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2)
            )
            channels //= 2
            for k, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(channels, k, dilations))
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3)
        if checkpoint is not None:
            self.load_pretrained(checkpoint)

    def load_pretrained(self, path: str | Path) -> None:
        """Load a generator file in the official layout (weight-norm pairs folded; ``generator`` key unwrapped)."""
        stored = fold_weight_norm(read_state_dict(path, nested_keys=("generator", "state_dict")))
        check_fits(path, self.state_dict(), stored, "HiFi-GAN generator")
        self.load_state_dict(stored)

    def forward(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, T · hop) samples in [-1, 1]."""
        x = self.conv_pre(log_mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = sum(b(x) for b in blocks) / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x))).squeeze(1)

    @torch.no_grad()
    def synthesize(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, (T - 1) * hop) samples."""
        return self(log_mel)[:, : (log_mel.shape[-1] - 1) * self.hop_length]
