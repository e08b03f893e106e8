"""foleyzoo's own evaluation networks for SynthFoley: AVContrastive embeddings and SyncPretraining offsets.

They stand in for ImageBind (IB-score) and Synchformer (DeSync) on the synthetic benchmark, where the
published networks know nothing of the clips; they are loaded from ``foleyzoo fit`` checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import prepare_audio, resample
from foleyzoo.embedders.weights import load_foleyzoo_module
from foleyzoo.training.contrastive import AVContrastive
from foleyzoo.training.sync import SyncPretraining

__all__ = ["AVContrastiveAudio", "AVContrastiveVideo", "SyncOffsetModel", "resample_video"]


def resample_video(video: Video, fps: float, size: tuple[int, int] | None = None) -> Video:
    """Frames picked at ``fps`` (frame k shows the latest source frame at or before k / fps), resized to ``size``."""
    frames = video.frames
    if abs(video.fps - fps) > 1e-6:
        count = max(1, round(frames.shape[1] * fps / video.fps))
        picks = torch.clamp(
            (torch.arange(count) * video.fps / fps + 1e-6).floor().long(), max=frames.shape[1] - 1
        )
        frames = frames[:, picks.to(frames.device)]
    if size is not None and tuple(frames.shape[-2:]) != tuple(size):
        flat = F.interpolate(frames.flatten(0, 1), size=size, mode="bilinear", align_corners=False)
        frames = flat.unflatten(0, frames.shape[:2])
    return Video(frames, fps)


class _ContrastiveEmbedder(Embedder):
    def __init__(self, checkpoint: str, model: AVContrastive | None = None) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.model = (
            model
            if model is not None
            else load_foleyzoo_module(self.checkpoint, AVContrastive, type(self).__name__)
        )

    def train(self, mode: bool = True) -> _ContrastiveEmbedder:
        return super().train(False)  # batch norm keeps its running statistics


class AVContrastiveAudio(_ContrastiveEmbedder):
    """Audio → AVContrastive's normalised clip embedding: FD on SynthFoley and the audio half of AVAlignment.

    Mono, resampled to the audio encoder's rate; ``duration`` cuts or pads it first.
    """

    modality = "audio"

    def __init__(self, checkpoint: str, duration: float | None = None, model: AVContrastive | None = None):
        super().__init__(checkpoint, model)
        self.duration = duration

    @property
    def sample_rate(self) -> int:
        return int(self.model.audio_encoder.sample_rate)

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"AVContrastiveAudio embeds a Waveform, got {type(inputs).__name__}")
        audio = prepare_audio(inputs.samples, inputs.sample_rate, self.sample_rate, self.duration)
        return Embedding(
            values=self.model.embed_audio(Waveform(audio.to(self.model.device), self.sample_rate))
        )


class AVContrastiveVideo(_ContrastiveEmbedder):
    """Video → AVContrastive's normalised clip embedding (frames resampled to the visual encoder's fps)."""

    modality = "video"

    @property
    def fps(self) -> float:
        return float(self.model.visual_encoder.fps)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        return self.model.frame_size

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Video):
            raise TypeError(f"AVContrastiveVideo embeds a Video, got {type(inputs).__name__}")
        video = resample_video(inputs, self.fps, self.frame_size)
        return Embedding(values=self.model.embed_video(Video(video.frames.to(self.model.device), self.fps)))

    @classmethod
    def sharing(cls, audio: AVContrastiveAudio) -> AVContrastiveVideo:
        """The video half of the model ``audio`` already loaded (one checkpoint read for both)."""
        return cls(audio.checkpoint, model=audio.model)


class SyncOffsetModel(nn.Module):
    """A SyncPretraining checkpoint as DeSync's judge: (video, audio) → how late the audio is, in seconds.

    Not an :class:`~foleyzoo.api.Embedder` (it reads a pair, not one modality). Frames are resampled to
    the sync encoder's fps and resized to ``frame_size`` (the size the tiny recipe trains on); audio is
    mixed to mono and resampled. :meth:`predict_offsets` reads ``windows`` windows of the model's length
    spread evenly over the clip (av-benchmark reads the first and the last 4.8 s with Synchformer).
    """

    def __init__(
        self, checkpoint: str, frame_size: tuple[int, int] | None = (32, 32), windows: int = 1
    ) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.model: SyncPretraining = load_foleyzoo_module(self.checkpoint, SyncPretraining, "DeSync")
        self.frame_size = None if frame_size is None else (int(frame_size[0]), int(frame_size[1]))
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.windows = windows

    def train(self, mode: bool = True) -> SyncOffsetModel:
        return super().train(False)

    @property
    def fps(self) -> float:
        return float(self.model.sync_encoder.fps)

    @property
    def sample_rate(self) -> int:
        return int(self.model.audio_encoder.sample_rate)

    @property
    def window(self) -> float:
        return float(self.model.window)

    def starts(self, duration: float) -> list[float]:
        """Window starts (s) spread evenly from 0 to ``duration − window`` (one window: centred)."""
        slack = max(0.0, duration - self.window)
        if self.windows == 1:
            return [slack / 2]
        return [slack * k / (self.windows - 1) for k in range(self.windows)]

    @torch.no_grad()
    def predict_offsets(self, video: Video, audio: Waveform) -> Tensor:
        """Offsets (B, windows) in seconds of (video, audio) pairs covering the same span (video sets it)."""
        clip = resample_video(video, self.fps, self.frame_size)
        device = next(self.model.parameters()).device
        clip = Video(clip.frames.to(device), self.fps)
        sound = resample(audio.samples.float().mean(dim=1, keepdim=True), audio.sample_rate, self.sample_rate)
        sound_wave = Waveform(sound.to(device), self.sample_rate)
        duration = clip.frames.shape[1] / self.fps
        if duration + 1e-6 < self.window:
            raise ValueError(
                f"the video lasts {duration:.2f} s, shorter than the sync model's {self.window} s window"
            )
        offsets = [self.model.predict_offset(clip, sound_wave, start) for start in self.starts(duration)]
        return torch.stack(offsets, dim=1).float().cpu()
