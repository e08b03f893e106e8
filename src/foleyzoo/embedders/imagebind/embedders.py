"""ImageBind-huge as av-benchmark's IB-score uses it: audio and video embedders in one 1024-d space.

IB-score is the mean cosine between a video's embedding and its generated audio's (av-benchmark's
``evaluate.py``). Both embedders read the single released ``imagebind_huge.pth``, each building only its
own tower.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import resample

from .audio_features import SAMPLE_RATE, imagebind_log_mels
from .frames import imagebind_clips
from .network import ImageBindTowers
from .weights import WEIGHTS_FILE, WEIGHTS_LICENCE, WEIGHTS_URL, load_towers, official_shapes

__all__ = ["ImageBindAudio", "ImageBindVideo"]

FRAME_RATE = 0.5
"""av-benchmark decodes ImageBind's frames at 0.5 fps (one every 2 s)."""


class _ImageBindBase(Embedder):
    """Shared: the released file's name, address, licence and manifest; frozen, always in eval mode."""

    weights_file: ClassVar[str] = WEIGHTS_FILE
    weights_url: ClassVar[str] = WEIGHTS_URL
    weights_licence: ClassVar[str] = WEIGHTS_LICENCE
    published_sha256: ClassVar[str | None] = None  # not published next to the file
    tower: ClassVar[str] = ""

    def __init__(self, checkpoint: str) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.model: ImageBindTowers = load_towers(self.checkpoint, (self.tower,))

    @classmethod
    def official_shapes(cls) -> dict[str, list[int]]:
        """Every key of ``imagebind_huge.pth`` with its shape (all modalities), from the manifest."""
        return official_shapes()

    def train(self, mode: bool = True) -> _ImageBindBase:
        return super().train(False)


class ImageBindAudio(_ImageBindBase):
    """Audio → ImageBind embedding (B, 1024): the mean over three 2 s clips of 20-scaled unit vectors.

    ``embed`` takes each file's channels as loaded (all of them, resampled to 16 kHz, full length, no DC
    removal: av-benchmark's ``ImageBindAudioDataset`` reads the file with torchaudio and resamples every
    channel); the clip means are taken over all channels, the filterbank reads channel 0. Rows of a batch
    share one length, so files of different lengths go one a batch. Another rate is resampled here.
    """

    modality = "audio"
    sample_rate = SAMPLE_RATE
    tower = "audio"

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"ImageBindAudio embeds a Waveform, got {type(inputs).__name__}")
        samples = inputs.samples.float()
        if inputs.sample_rate != SAMPLE_RATE:
            samples = resample(samples, inputs.sample_rate, SAMPLE_RATE)
        mels = torch.stack([imagebind_log_mels(row.cpu()) for row in samples])  # (B, 3, 1, 128, 204)
        weight = self.model.modality_heads["audio"][2].weight
        values = self.model.audio(mels.flatten(0, 1).to(weight))
        return Embedding(values=values.unflatten(0, mels.shape[:2]).mean(dim=1).float())


class ImageBindVideo(_ImageBindBase):
    """Video → ImageBind embedding (1024,): the mean over 3 crops × (T − 1) two-frame clips of unit vectors.

    :meth:`embed_frames` takes the frames av-benchmark decodes (0.5 fps, RGB, 8-bit, (T, H, W, 3); it keeps
    the first int(0.5 · duration) of them, 4 for its 8 s default).
    """

    modality = "video"
    sample_rate = SAMPLE_RATE
    frame_rate: ClassVar[float] = FRAME_RATE
    tower = "vision"

    @torch.no_grad()
    def embed_frames(self, frames: Tensor) -> Tensor:
        """uint8 frames (T ≥ 2, H, W, 3) at 0.5 fps → (1024,)."""
        clips = imagebind_clips(frames.cpu())
        weight = self.model.modality_heads["vision"][2].weight
        return self.model.vision(clips.to(weight)).mean(dim=0).float()

    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        """Each video's real frames (``mask``) taken every 2 s (the nearest frame), quantised to 8 bits."""
        if not isinstance(inputs, Video):
            raise TypeError(f"ImageBindVideo embeds a Video, got {type(inputs).__name__}")
        rows = []
        for index in range(inputs.frames.shape[0]):
            frames = inputs.frames[index]
            if inputs.mask is not None:
                frames = frames[inputs.mask[index]]
            step = inputs.fps / FRAME_RATE
            count = int(frames.shape[0] / step) if step > 0 else 0
            picks = [min(round(k * step), frames.shape[0] - 1) for k in range(max(count, 1))]
            chosen = frames[picks].clamp(0, 1).mul(255).round().to(torch.uint8)
            rows.append(self.embed_frames(chosen.permute(0, 2, 3, 1)))
        return Embedding(values=torch.stack(rows))
