"""SyncPretraining: a sync encoder and an audio encoder trained to classify the audio-visual offset.

As in Synchformer, a visual window and an audio window of the same length are cut from one clip, the
audio displaced by an offset from a grid (21 classes over ±1 s by default), and the model classifies
the offset. ``offset`` means how late the audio is: a pair with offset d shows an event at window time
t in the frames and at t + d in the sound. The head compares the two feature sequences at every lag —
a frame-by-lag similarity profile — and maps that profile to the offset classes, so what it must learn
is *what* in the frames matches *what* in the sound; the grid of lags is built in. The trained model
predicts the offset of any (video, audio) pair (:meth:`SyncPretraining.predict_offset`), which is what
the DeSync metric needs.

With ``eventless_fraction`` > 0 the model also learns an extra class, "nothing to synchronise": that share
of the training pairs gets a stationary sound (:func:`~foleyzoo.training.eventless.eventless_audio`)
instead of the clip's. Such a judge does not pick an arbitrary offset for a hiss; it says the sound
cannot be placed, and :meth:`SyncPretraining.predict_offset` reads that as the edge of the grid.
"""

from __future__ import annotations

import math

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import SyncEncoder, Video, Waveform
from foleyzoo.encoders.audio.tiny_mel import TinyMelAudioEncoder
from foleyzoo.encoders.sync.tiny3d import TinySync3DCNN
from foleyzoo.io.hparams import save_config_hyperparameters
from foleyzoo.training.eventless import eventless_audio

__all__ = ["BED_SNR_DB", "SyncPretraining", "offset_grid"]

BED_SNR_DB = (10.0, 40.0)
"""Signal-to-noise ratios (dB) of the stationary beds mixed under timed training windows of a judge.

At least 10 dB: beds as loud as the sound left noise on its own half-way between "nothing" and a sound
(docs/metrics.md)."""


def offset_grid(max_offset: float, classes: int) -> Tensor:
    """The offsets (seconds) of the classes: ``classes`` evenly spaced values from -max_offset to max_offset."""
    if classes < 2 or classes % 2 == 0:
        raise ValueError(f"offset_classes must be odd and >= 3 (0 s is the middle class), got {classes}")
    return torch.linspace(-max_offset, max_offset, classes)


class LagProfileHead(nn.Module):
    """Two feature sequences (B, T, D) → logits over offset classes, from their similarity at every lag.

    Similarities ``v_i · a_j`` are averaged along each diagonal j − i = lag (in feature frames) over the
    lags the grid spans, giving a (B, lags) profile; a small 1-D convolution over lags and a linear
    layer turn it into class logits. Lags between grid points are kept, so the classes need not fall
    on whole feature frames.

    The offset logits read the profile normalised (its shape); with ``null_class`` one more logit, for
    "nothing to synchronise", reads the raw profile, whose level says whether anything matches at all.
    """

    def __init__(self, max_lag: int, classes: int, width: int = 32, null_class: bool = False) -> None:
        super().__init__()
        self.max_lag = max_lag
        self.conv = nn.Sequential(
            nn.Conv1d(1, width, 5, padding=2), nn.GELU(), nn.Conv1d(width, width, 5, padding=2), nn.GELU()
        )
        self.out = nn.Linear(width * (2 * max_lag + 1), classes)
        self.null = (
            nn.Sequential(nn.Linear(2 * max_lag + 1, width), nn.GELU(), nn.Linear(width, 1))
            if null_class
            else None
        )

    def profile(self, visual: Tensor, audio: Tensor) -> Tensor:
        """(B, T, D) × (B, T, D) → (B, 2 · max_lag + 1): mean similarity at lags −max_lag … max_lag."""
        similarity = torch.einsum("bid,bjd->bij", visual, audio)
        lags = range(-self.max_lag, self.max_lag + 1)  # max_lag < T, so every diagonal has entries
        return torch.stack([similarity.diagonal(lag, dim1=1, dim2=2).mean(dim=-1) for lag in lags], dim=1)

    def forward(self, visual: Tensor, audio: Tensor) -> Tensor:
        raw = self.profile(visual, audio)
        profile = (raw - raw.mean(dim=1, keepdim=True)) / (raw.std(dim=1, keepdim=True) + 1e-4)
        logits = self.out(self.conv(profile[:, None]).flatten(1))
        if self.null is None:
            return logits
        return torch.cat([logits, self.null(raw)], dim=1)


class SyncPretraining(LightningModule):
    """Offset classification between a sync encoder's visual windows and an audio encoder's sound windows.

    Batches are those of :class:`~foleyzoo.synthfoley.datamodule.SynthFoleyDataModule` (or any clip
    data module) with ``sync`` frames at the sync encoder's fps and ``audio``. Every item gives one
    training pair: the visual window starts ``max_offset`` seconds in (plus a random jitter where the clip
    is long enough) and the audio window is displaced by a random grid offset, so clips must be at
    least ``window + 2 · max_offset`` long. ``eventless_fraction`` of the pairs (none by default) get a
    stationary sound and the extra class "nothing to synchronise" (see the module's docstring).
    """

    def __init__(
        self,
        sync_encoder: SyncEncoder | None = None,
        audio_encoder: TinyMelAudioEncoder | None = None,
        window: float = 2.0,
        max_offset: float = 1.0,
        offset_classes: int = 21,
        feature_dim: int = 64,
        head_width: int = 32,
        eventless_fraction: float = 0.0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
    ) -> None:
        super().__init__()
        save_config_hyperparameters(self)
        self.sync_encoder = sync_encoder if sync_encoder is not None else TinySync3DCNN()
        self.audio_encoder = audio_encoder if audio_encoder is not None else TinyMelAudioEncoder()
        self.visual_proj = nn.Linear(self.sync_encoder.embed_dim, feature_dim)
        self.audio_proj = nn.Linear(self.audio_encoder.embed_dim, feature_dim)
        self.window, self.max_offset = window, max_offset
        self.register_buffer("offsets", offset_grid(max_offset, offset_classes), persistent=False)
        if not 0.0 <= eventless_fraction < 1.0:
            raise ValueError(f"eventless_fraction must be in [0, 1), got {eventless_fraction}")
        self.eventless_fraction = eventless_fraction
        self.null_label = offset_classes if eventless_fraction > 0 else None
        # what each class reads as, in seconds: the grid, then "nothing to synchronise" at its edge
        edge = torch.tensor([max_offset]) if self.null_label is not None else torch.zeros(0)
        self.register_buffer("class_offsets", torch.cat([self.offsets, edge]), persistent=False)
        self.window_frames = round(window * self.sync_encoder.feature_rate)
        max_lag = math.ceil(max_offset * self.sync_encoder.feature_rate)
        if max_lag >= self.window_frames:
            raise ValueError(f"max_offset {max_offset} s must be shorter than the window {window} s")
        self.head = LagProfileHead(
            max_lag, offset_classes, head_width, null_class=self.null_label is not None
        )
        self.optimizer_factory = optimizer

    # ------------------------------------------------------------------ features

    def visual_features(self, video: Video) -> Tensor:
        """Sync frames of the window (B, T, 3, H, W) → centred unit features (B, window_frames, feature_dim)."""
        features = self.sync_encoder.encode(video).values
        features = TinyMelAudioEncoder.pool_to(features, self.window_frames)
        return _centred(self.visual_proj(features))

    def audio_features(self, audio: Waveform) -> Tensor:
        """Sound of the window (B, C, N) → centred unit features (B, window_frames, feature_dim)."""
        features = TinyMelAudioEncoder.pool_to(self.audio_encoder(audio), self.window_frames)
        return _centred(self.audio_proj(features))

    def logits(self, video: Video, audio: Waveform) -> Tensor:
        """Equal-length windows → (B, offset_classes) logits of how late the audio is."""
        return self.head(self.visual_features(video), self.audio_features(audio))

    # ------------------------------------------------------------------ windows

    def cut_pairs(
        self, sync: Video, audio: Waveform, labels: Tensor, starts: Tensor
    ) -> tuple[Video, Waveform]:
        """Visual windows from ``starts`` (s) and audio windows ``offsets[labels]`` earlier (late audio)."""
        fps, rate = sync.fps, audio.sample_rate
        frames, samples = self.window_frames, round(self.window * rate)
        clips, sounds = [], []
        for row, (label, start) in enumerate(zip(labels.tolist(), starts.tolist(), strict=True)):
            first = round(start * fps)
            clips.append(sync.frames[row, first : first + frames])
            audio_start = round((first / fps - float(self.offsets[label])) * rate)
            sounds.append(_padded_slice(audio.samples[row], audio_start, samples))
        if any(clip.shape[0] < frames for clip in clips):
            raise ValueError(
                f"clips are too short for a {self.window} s window with offsets up to ±{self.max_offset} s"
            )
        return Video(torch.stack(clips), fps), Waveform(torch.stack(sounds), rate)

    def random_pairs(
        self, batch: dict, generator: torch.Generator | None = None
    ) -> tuple[Video, Waveform, Tensor]:
        """One (visual window, displaced audio window, class) per item, drawn at random.

        With ``eventless_fraction`` > 0 that share of the items (drawn per item) gets a stationary sound
        and the "nothing to synchronise" class instead, and half of the others a stationary bed under
        their sound (see :meth:`_with_eventless`).
        """
        sync, audio = batch["sync"], batch["audio"]
        size, duration = sync.frames.shape[0], sync.frames.shape[1] / sync.fps
        labels = torch.randint(0, len(self.offsets), (size,), generator=generator)
        slack = max(0.0, duration - self.window - 2 * self.max_offset)
        starts = self.max_offset + slack * torch.rand(size, generator=generator)
        video, sound = self.cut_pairs(sync, audio, labels, starts)
        if self.null_label is not None:
            sound, labels = self._with_eventless(sound, labels, generator)
        return video, sound, labels.to(sync.frames.device)

    def _with_eventless(
        self, sound: Waveform, labels: Tensor, generator: torch.Generator | None
    ) -> tuple[Waveform, Tensor]:
        """Stationary sounds in place of a share of the windows (class "nothing to synchronise"), beds under half the rest.

        Without the beds the judge would learn that any steady noise means "nothing here", and call a
        timed sound with a little hiss under it eventless; with them it must look for the events.
        """
        samples = sound.samples
        size, channels, length = samples.shape
        eventless = torch.rand(size, generator=generator) < self.eventless_fraction
        stationary = eventless_audio(size, length, sound.sample_rate, generator)
        bed = eventless_audio(size, length, sound.sample_rate, generator)
        low, high = BED_SNR_DB
        snr_db = low + (high - low) * torch.rand(size, 1, 1, generator=generator)
        level = samples.square().mean(dim=(1, 2), keepdim=True).sqrt().cpu() * 10 ** (-snr_db / 20)
        bed = bed / bed.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-12) * level
        replaced = eventless[:, None, None]
        bedded = (torch.rand(size, 1, 1, generator=generator) < 0.5) & ~replaced
        mixed = torch.where(replaced, stationary, torch.where(bedded, bed, 0.0))
        noisy = torch.where(replaced.to(samples.device), 0.0, samples)
        noisy = noisy + mixed.expand(-1, channels, -1).to(samples)
        labels = torch.where(
            eventless.to(labels.device), torch.full_like(labels, int(self.null_label)), labels
        )
        return Waveform(noisy, sound.sample_rate), labels

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def predict_offset(self, video: Video, audio: Waveform, start: float | None = None) -> Tensor:
        """How late the audio is (B,) in seconds, read from the window at ``start`` (default: centred).

        ``video`` holds sync frames at the sync encoder's fps; ``audio`` covers the same time span. A pair
        judged to hold nothing to synchronise (a model trained with ``eventless_fraction``) reads
        ``max_offset``: the edge of the grid, the farthest off this model can tell.
        """
        duration = video.frames.shape[1] / video.fps
        if start is None:
            start = max(0.0, (duration - self.window) / 2)
        first = round(start * video.fps)
        clip = Video(video.frames[:, first : first + self.window_frames], video.fps)
        if clip.frames.shape[1] < self.window_frames:
            raise ValueError(f"the video is shorter than the {self.window} s window")
        samples = round(self.window * audio.sample_rate)
        begin = round(first / video.fps * audio.sample_rate)
        sound = torch.stack([_padded_slice(row, begin, samples) for row in audio.samples])
        logits = self.logits(clip, Waveform(sound, audio.sample_rate))
        return self.class_offsets[logits.argmax(dim=-1)]

    # ------------------------------------------------------------------ training

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        video, sound, labels = self.random_pairs(batch)
        logits = self.logits(video, sound)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=-1) == labels).float().mean()
        self.log_dict({"train/loss": loss, "train/accuracy": accuracy}, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        """Loss over all pairs; offset accuracy over the timed pairs; with the extra class, how it is used."""
        generator = torch.Generator().manual_seed(batch_idx)  # the same pairs at every validation
        video, sound, labels = self.random_pairs(batch, generator)
        logits = self.logits(video, sound)
        predicted = logits.argmax(dim=-1)
        self.log("val/loss", F.cross_entropy(logits, labels), batch_size=labels.shape[0])
        timed = labels < len(self.offsets)
        if timed.any():
            hits, size = (predicted == labels)[timed].float(), int(timed.sum())
            self.log("val/accuracy", hits.mean(), prog_bar=True, batch_size=size)
            on_grid = predicted < len(self.offsets)
            within = (((predicted - labels).abs() <= 1) & on_grid)[timed].float().mean()
            self.log("val/within_one_step", within, batch_size=size)
        if self.null_label is not None:
            said_null = predicted == self.null_label
            if (~timed).any():
                self.log(
                    "val/eventless_recall", said_null[~timed].float().mean(), batch_size=int((~timed).sum())
                )
            if timed.any():
                self.log(
                    "val/timed_called_eventless", said_null[timed].float().mean(), batch_size=int(timed.sum())
                )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())


def _centred(features: Tensor) -> Tensor:
    """(B, T, D) less its mean over time, then unit length a frame: what changes, not what stays on screen."""
    return F.normalize(features - features.mean(dim=1, keepdim=True), dim=-1)


def _padded_slice(samples: Tensor, start: int, length: int) -> Tensor:
    """(C, N)[:, start : start + length], zero-padded where the window runs past either end."""
    left, right = max(0, -start), max(0, start + length - samples.shape[-1])
    piece = samples[:, max(0, start) : max(0, start) + length - left]
    return F.pad(piece, (left, right))[:, :length]
