"""AVContrastive: clip-level audio and visual embeddings learned CLIP-style, an audio-visual alignment scorer.

A visual encoder (frames → per-frame features) and a log-mel audio encoder (sound → one feature a mel
frame) each feed a small temporal head: both sequences are averaged onto the same grid of steps,
passed through 1-D convolutions over time, averaged into ``time_bins`` equal stretches of the clip and
flattened into one projected vector, L2-normalised. Keeping a coarse time layout matters: two clips
may show the same classes of objects, and then only *when* the impacts happen tells them apart.
A symmetric InfoNCE loss with a learnable temperature (CLIP's) pulls each clip's audio and video
embeddings together and pushes the other pairs of the batch apart. The cosine of a pair's embeddings
is its alignment score, the role ImageBind plays in the IB-score metric.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Video, VisualEncoder, Waveform
from foleyzoo.encoders.audio.tiny_mel import TinyMelAudioEncoder
from foleyzoo.encoders.visual.tiny_cnn import TinyVisualCNN
from foleyzoo.io.hparams import save_config_hyperparameters

__all__ = [
    "AVContrastive",
    "TemporalHead",
    "evaluate_retrieval",
    "grouped_top1",
    "retrieval_top1",
    "symmetric_info_nce",
]


def symmetric_info_nce(audio: Tensor, video: Tensor, logit_scale: Tensor | float) -> Tensor:
    """CLIP's loss: mean of audio→video and video→audio cross-entropy over the batch's (B, B) similarities.

    ``audio`` and ``video`` are (B, E) normalised embeddings; row i of each is the same clip.
    """
    logits = logit_scale * audio @ video.T
    targets = torch.arange(audio.shape[0], device=audio.device)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def retrieval_top1(queries: Tensor, candidates: Tensor) -> Tensor:
    """Share of queries (N, E) whose most similar candidate (N, E) is their own pair (row i ↔ row i).

    ``retrieval_top1(audio, video)`` is audio→video retrieval, ``retrieval_top1(video, audio)`` the reverse.
    """
    nearest = (queries @ candidates.T).argmax(dim=1)
    return (nearest == torch.arange(queries.shape[0], device=queries.device)).float().mean()


def grouped_top1(audio: Tensor, video: Tensor, group: int) -> tuple[float, float, int]:
    """(a2v, v2a, groups): top-1 retrieval averaged over consecutive groups of ``group`` clips.

    Each query's candidates are the clips of its own group; a last, partial group is left out.
    """
    groups = audio.shape[0] // group
    if groups == 0:
        raise ValueError(f"need at least {group} clips for groups of {group}, got {audio.shape[0]}")
    pairs = [(audio[k * group : (k + 1) * group], video[k * group : (k + 1) * group]) for k in range(groups)]
    a2v = torch.stack([retrieval_top1(a, v) for a, v in pairs]).mean()
    v2a = torch.stack([retrieval_top1(v, a) for a, v in pairs]).mean()
    return float(a2v), float(v2a), groups


class TemporalHead(nn.Module):
    """Features (B, T, D) → one clip vector (B, E) that keeps a coarse time layout.

    Each clip's sequence is averaged onto ``steps`` equal stretches of it (both modalities share this
    grid), batch-normalised (raw encoder features are dominated by what all clips share, such as the
    background), passed through two 3-tap convolutions over time (motion, onsets), averaged into
    ``time_bins`` bins and flattened into a linear projection. ``mask`` (B, T) marks the valid frames,
    a prefix of each row as :func:`~foleyzoo.data.clips.collate_clips` pads; padding is left out.
    """

    def __init__(self, in_dim: int, width: int, steps: int, time_bins: int, embed_dim: int) -> None:
        super().__init__()
        if steps % time_bins:
            raise ValueError(f"steps ({steps}) must be a multiple of time_bins ({time_bins})")
        self.steps, self.time_bins = steps, time_bins
        self.conv = nn.Sequential(
            nn.BatchNorm1d(in_dim),
            nn.Conv1d(in_dim, width, 3, padding=1),
            nn.BatchNorm1d(width),
            nn.GELU(),
            nn.Conv1d(width, width, 3, padding=1),
            nn.BatchNorm1d(width),
            nn.GELU(),
        )
        self.proj = nn.Linear(width * time_bins, embed_dim)

    def to_steps(self, features: Tensor, mask: Tensor | None = None) -> Tensor:
        """(B, T, D) → (B, D, steps): every clip's valid frames averaged onto ``steps`` equal stretches."""
        x = features.transpose(1, 2)
        if mask is None or bool(mask.all()):
            return F.adaptive_avg_pool1d(x, self.steps)
        lengths = mask.sum(dim=1).clamp_min(1).tolist()
        return torch.stack(
            [
                F.adaptive_avg_pool1d(row[:, :length], self.steps)
                for row, length in zip(x, lengths, strict=True)
            ]
        )

    def forward(self, features: Tensor, mask: Tensor | None = None) -> Tensor:
        x = F.adaptive_avg_pool1d(self.conv(self.to_steps(features, mask)), self.time_bins)
        return self.proj(x.flatten(1))


class AVContrastive(LightningModule):
    """Audio and video clip embeddings trained with a symmetric InfoNCE loss; their cosine scores alignment.

    Batches are those of :class:`~foleyzoo.synthfoley.datamodule.SynthFoleyDataModule` (or any clip
    data module) with ``visual`` frames at the visual encoder's fps and ``audio`` at the audio encoder's
    rate, both spanning the same window (clip embeddings split each clip's own span into time bins).
    Frames of another size are resized to ``frame_size``; ``scheduler`` steps once a batch.
    Validation logs ``val/loss`` and the top-1 retrieval ``val/a2v_top1`` / ``val/v2a_top1`` among
    consecutive groups of ``retrieval_group`` validation clips.
    """

    def __init__(
        self,
        visual_encoder: VisualEncoder | None = None,
        audio_encoder: TinyMelAudioEncoder | None = None,
        embed_dim: int = 128,
        head_width: int = 64,
        steps: int = 32,
        time_bins: int = 8,
        frame_size: tuple[int, int] | None = (32, 32),
        init_temperature: float = 0.07,
        max_logit_scale: float = 100.0,
        retrieval_group: int = 16,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.visual_encoder = visual_encoder if visual_encoder is not None else TinyVisualCNN()
        self.audio_encoder = audio_encoder if audio_encoder is not None else TinyMelAudioEncoder()
        self.visual_head = TemporalHead(
            self.visual_encoder.embed_dim, head_width, steps, time_bins, embed_dim
        )
        self.audio_head = TemporalHead(self.audio_encoder.embed_dim, head_width, steps, time_bins, embed_dim)
        self.frame_size = None if frame_size is None else (int(frame_size[0]), int(frame_size[1]))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log_scale = math.log(max_logit_scale)
        self.retrieval_group = retrieval_group
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self._val_embeddings: list[tuple[Tensor, Tensor]] = []

    # ------------------------------------------------------------------ embeddings

    def embed_video(self, video: Video) -> Tensor:
        """Frames (B, T, 3, H, W) at the visual encoder's fps → normalised clip embeddings (B, embed_dim)."""
        if abs(video.fps - self.visual_encoder.fps) > 1e-6:
            raise ValueError(
                f"video is {video.fps} fps; the visual encoder takes {self.visual_encoder.fps} fps"
            )
        frames = video.frames
        if self.frame_size is not None and tuple(frames.shape[-2:]) != self.frame_size:
            batch = frames.shape[0]
            resized = F.interpolate(
                frames.flatten(0, 1), size=self.frame_size, mode="bilinear", align_corners=False
            )
            frames = resized.unflatten(0, (batch, -1))
        features = self.visual_encoder.encode(Video(frames, video.fps, video.mask))
        return F.normalize(self.visual_head(features.values, features.mask), dim=-1)

    def embed_audio(self, audio: Waveform, mask: Tensor | None = None) -> Tensor:
        """Sound (B, C, N) at the audio encoder's rate → normalised clip embeddings (B, embed_dim).

        ``mask`` (B, N) marks real samples (a batch's ``audio_mask``); padding is left out.
        """
        features = self.audio_encoder(audio)
        frame_mask = None
        if mask is not None:
            hop = self.audio_encoder.frontend.config.hop_length
            valid = mask.sum(dim=1, keepdim=True) // hop + 1  # centred STFT frames of the real samples
            frame_mask = torch.arange(features.shape[1], device=features.device)[None] < valid
        return F.normalize(self.audio_head(features, frame_mask), dim=-1)

    def score(self, video: Video, audio: Waveform) -> Tensor:
        """Alignment (B,) of matched pairs: the cosine of clip i's video and audio embeddings, in [-1, 1]."""
        return (self.embed_video(video) * self.embed_audio(audio)).sum(dim=-1)

    def retrieval_top1(self, audio_emb: Tensor, video_emb: Tensor) -> Tensor:
        """Audio→video top-1 retrieval among the N candidate clips given (row i of each is clip i)."""
        return retrieval_top1(audio_emb, video_emb)

    @property
    def temperature_scale(self) -> Tensor:
        """The logit scale 1 / temperature, clamped at ``max_logit_scale`` as in CLIP."""
        return self.logit_scale.clamp(0.0, self.max_log_scale).exp()

    # ------------------------------------------------------------------ training

    def embed_batch(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """(audio, video) embeddings (B, embed_dim) of a clip batch with ``visual`` and ``audio``."""
        return self.embed_audio(batch["audio"], batch.get("audio_mask")), self.embed_video(batch["visual"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        audio, video = self.embed_batch(batch)
        loss = symmetric_info_nce(audio, video, self.temperature_scale)
        size = video.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/a2v_top1", retrieval_top1(audio.detach(), video.detach()), batch_size=size)
        self.log("train/logit_scale", self.temperature_scale.detach(), batch_size=size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_embeddings = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        audio, video = self.embed_batch(batch)
        size = video.shape[0]
        self.log("val/loss", symmetric_info_nce(audio, video, self.temperature_scale), batch_size=size)
        self._val_embeddings.append((audio.detach(), video.detach()))

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        audio = torch.cat([a for a, _ in self._val_embeddings])
        video = torch.cat([v for _, v in self._val_embeddings])
        self._val_embeddings = []
        if audio.shape[0] < self.retrieval_group:
            return  # too few clips for one group (e.g. a shortened sanity check)
        a2v, v2a, _ = grouped_top1(audio, video, self.retrieval_group)
        self.log("val/a2v_top1", a2v, prog_bar=True)
        self.log("val/v2a_top1", v2a)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@torch.no_grad()
def evaluate_retrieval(
    model: AVContrastive,
    seed: int = 2024,
    clips: int = 16,
    groups: int = 8,
    duration: float = 4.0,
) -> dict[str, float]:
    """Top-1 retrieval on ``clips × groups`` held-out SynthFoley clips of ``seed``, averaged over groups.

    Training uses seeds 0 (train) and 1 (validation); 2024 is kept for this evaluation. Each query's
    candidates are the ``clips`` clips of its group. Returns ``a2v_top1``, ``v2a_top1``, ``chance``,
    the mean :meth:`AVContrastive.score` of matched pairs (``score_matched``) and of the other pairs
    of each group (``score_mismatched``), ``clips`` and ``groups``.
    """
    from foleyzoo.data.clips import ClipFormat
    from foleyzoo.synthfoley.datamodule import SynthFoleyClips

    size = model.frame_size or (64, 64)
    fmt = ClipFormat(
        visual_fps=model.visual_encoder.fps,
        visual_size=size,
        sync_fps=None,
        sample_rate=model.audio_encoder.sample_rate,
        channels=1,
    )
    dataset = SynthFoleyClips(clips * groups, seed, fmt, duration)
    was_training = model.training
    model.eval()
    audio, video = [], []
    for group in range(groups):
        items = [dataset[index] for index in range(group * clips, (group + 1) * clips)]
        frames = torch.stack([item["visual"] for item in items]).to(model.device)
        samples = torch.stack([item["audio"] for item in items]).to(model.device)
        video.append(model.embed_video(Video(frames, float(fmt.visual_fps or 0))))
        audio.append(model.embed_audio(Waveform(samples, int(fmt.sample_rate or 0))))
    model.train(was_training)
    audio_emb, video_emb = torch.cat(audio), torch.cat(video)
    a2v, v2a, _ = grouped_top1(audio_emb, video_emb, clips)
    similarity = torch.einsum(
        "gie,gje->gij", audio_emb.unflatten(0, (groups, clips)), video_emb.unflatten(0, (groups, clips))
    )
    matched = similarity.diagonal(dim1=1, dim2=2)
    mismatched = (similarity.sum(dim=(1, 2)) - matched.sum(dim=1)) / (clips * (clips - 1))
    return {
        "a2v_top1": a2v,
        "v2a_top1": v2a,
        "chance": 1.0 / clips,
        "score_matched": float(matched.mean()),
        "score_mismatched": float(mismatched.mean()),
        "clips": clips,
        "groups": groups,
    }
