"""A small trainable log-mel CNN audio encoder: the audio side of SyncPretraining and AVContrastive."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Waveform
from foleyzoo.codecs.mel import MelConfig, MelFrontend


class TinyMelAudioEncoder(nn.Module):
    """Mono or multichannel waveform (B, C, N) → features (B, T, D) at ``frame_rate`` (the mel's hop).

    Channels are mixed to mono first. The log-mel is normalised with fixed constants, then 1-D
    convolutions over time (mel bands are channels) with dilations keep one feature a mel frame, so
    timing stays precise to a hop (10 ms by default). :meth:`pool_to` averages them onto another grid.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 64,
        embed_dim: int = 64,
        width: int = 64,
        layers: int = 3,
    ) -> None:
        super().__init__()
        self.frontend = MelFrontend(
            MelConfig(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        )
        blocks: list[nn.Module] = [nn.Conv1d(n_mels, width, 3, padding=1), nn.GELU()]
        for index in range(layers - 1):
            dilation = 2 ** (index + 1)
            blocks += [nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation), nn.GELU()]
        blocks.append(nn.Conv1d(width, embed_dim, 1))
        self.net = nn.Sequential(*blocks)
        self.embed_dim = embed_dim

    @property
    def sample_rate(self) -> int:
        return self.frontend.config.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.frontend.config.frame_rate

    def forward(self, audio: Waveform) -> Tensor:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"audio is {audio.sample_rate} Hz; this encoder takes {self.sample_rate} Hz")
        mono = audio.samples.mean(dim=1, keepdim=True)
        log_mel = self.frontend(mono)[:, 0]  # (B, n_mels, T)
        features = self.net((log_mel + 5.0) / 2.5)
        return features.transpose(1, 2)

    @staticmethod
    def pool_to(features: Tensor, frames: int) -> Tensor:
        """(B, T, D) → (B, frames, D) by averaging over equal stretches of time (both span the same clip)."""
        return F.adaptive_avg_pool1d(features.transpose(1, 2), frames).transpose(1, 2)
