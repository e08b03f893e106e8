"""Synchformer's visual feature extractor in the official parameter layout (MMAudio's sync features).

Synchformer (Iashin et al. 2024) reads 25 fps video in segments of 16 frames taken every 8 frames. A
segment is cut into tubelets of 2 frames × 16 × 16 pixels; with a class token in front, the tokens pass
through a MotionFormer-style ViT whose blocks attend first across time (each patch position with the
class token), then across space (each time step with the class token), then apply an MLP. After a final
LayerNorm the class token is dropped and every time step's patches are pooled by one more transformer
layer with its own class token: 8 features of 768 a segment. MMAudio concatenates the segments' features
(8 · S for S segments) and calls them 24 a second.

:class:`Synchformer` holds exactly the parameters of that visual extractor under their official names,
so the ``vfeat_extractor.*`` part of MMAudio's ``synchformer_state_dict.pth`` (the file av-benchmark's
DeSync also reads) loads strictly once the prefix is stripped. It was proven equal to MMAudio's own code
on random weights (``scripts/compare_mmaudio_sync.py``).

``Synchformer`` is registered under that name as a SyncEncoder. foleyzoo's earlier network of this name
(its own layout, never trained) is :class:`~foleyzoo.encoders.sync.motionformer.MotionFormerSyncEncoder`;
``foleyzoo.encoders.sync.synchformer.SynchformerEncoder`` still names it, with a DeprecationWarning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from foleyzoo.api import FrameFeatures, SyncEncoder, Video
from foleyzoo.encoders.sync import motionformer
from foleyzoo.encoders.sync.motionformer import fill_invalid_frames
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import read_weights, state_dict_mismatch

__all__ = [
    "CHECKPOINT_PREFIX",
    "FEATURE_RATE",
    "FPS",
    "SEGMENT_FRAMES",
    "SEGMENT_STEP",
    "Synchformer",
    "num_segments",
]

log = logging.getLogger(__name__)

FPS = 25.0
"""Frames a second Synchformer reads."""
FEATURE_RATE = 24.0
"""MMAudio's nominal rate of the concatenated features: 192 for 8 s (8 per segment, one segment per 8 frames
less one)."""
SEGMENT_FRAMES, SEGMENT_STEP, TUBELET = 16, 8, 2
"""A segment's frames, the frames between segment starts, the frames of one tubelet (one feature)."""
MEAN = STD = (0.5, 0.5, 0.5)
CHECKPOINT_PREFIX = "vfeat_extractor."
"""The prefix of the visual extractor's keys in Synchformer's whole-model state dict."""
NESTED_KEYS = ("state_dict", "model")
LAYER_NORM_EPS = 1e-6


def num_segments(frames: int) -> int:
    """Segments MMAudio cuts from ``frames`` frames: ``(frames - 16) // 8 + 1``, none below 16 frames."""
    return max(0, (frames - SEGMENT_FRAMES) // SEGMENT_STEP + 1)


def cut_segments(frames: Tensor, count: int) -> Tensor:
    """Frames (B, T, ...) → segments (B, count, 16, ...); segment k holds frames ``[8k, 8k + 16)``."""
    starts = torch.arange(count, device=frames.device) * SEGMENT_STEP
    return frames[:, starts[:, None] + torch.arange(SEGMENT_FRAMES, device=frames.device)]


# --------------------------------------------------------------------------- layers


class DividedAttention(nn.Module):
    """Self-attention of a class token followed by F time steps × P patches, along one axis only.

    Every patch token attends to the tokens sharing its position (``axis="time"``) or its time step
    (``axis="space"``) plus the class token; the class token attends to every token. One packed ``qkv``
    projection (heads inside each third) and an output ``proj``, as the official ``attn``/``timeattn``.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, axis: str, steps: int) -> Tensor:
        """x (N, 1 + steps · P, D), time-major after the class token → (N, 1 + steps · P, D)."""
        q, k, v = rearrange(self.qkv(x), "n l (three h d) -> three n h l d", three=3, h=self.heads)
        token = F.scaled_dot_product_attention(q[:, :, :1], k, v)
        group = "(n p) h f d" if axis == "time" else "(n f) h p d"
        q, k_rest, v_rest = (rearrange(t[:, :, 1:], f"n h (f p) d -> {group}", f=steps) for t in (q, k, v))
        per_group = q.shape[0] // x.shape[0]
        k_cls, v_cls = (repeat(t[:, :, :1], "n h one d -> (n r) h one d", r=per_group) for t in (k, v))
        attended = F.scaled_dot_product_attention(
            q, torch.cat([k_cls, k_rest], dim=2), torch.cat([v_cls, v_rest], dim=2)
        )
        attended = rearrange(attended, f"{group} -> n h (f p) d", n=x.shape[0], f=steps)
        return self.proj(rearrange(torch.cat([token, attended], dim=2), "n h l d -> n l (h d)"))


class Mlp(nn.Module):
    """Two linear layers with an exact GELU between them."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    """Pre-norm residual block: time attention, then space attention, then the MLP.

    Official names: ``norm3``/``timeattn`` (time), ``norm1``/``attn`` (space), ``norm2``/``mlp``.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = DividedAttention(dim, heads)
        self.timeattn = DividedAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm3 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, x: Tensor, steps: int) -> Tensor:
        x = x + self.timeattn(self.norm3(x), "time", steps)
        x = x + self.attn(self.norm1(x), "space", steps)
        return x + self.mlp(self.norm2(x))


class PackedSelfAttention(nn.Module):
    """Multi-head attention with one packed input projection (``in_proj_weight``/``in_proj_bias``, q, k, v
    stacked) and ``out_proj``: the parameters of ``torch.nn.MultiheadAttention``, computed by SDPA."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def first_query(self, x: Tensor) -> Tensor:
        """x (N, L, D) → the attention output of its first token alone (N, D) (keys and values: all L)."""
        weight_q, weight_kv = self.in_proj_weight.split([x.shape[-1], 2 * x.shape[-1]])
        bias_q, bias_kv = self.in_proj_bias.split([x.shape[-1], 2 * x.shape[-1]])
        q = rearrange(F.linear(x[:, :1], weight_q, bias_q), "n l (h d) -> n h l d", h=self.heads)
        k, v = rearrange(F.linear(x, weight_kv, bias_kv), "n l (two h d) -> two n h l d", two=2, h=self.heads)
        return self.out_proj(rearrange(F.scaled_dot_product_attention(q, k, v), "n h 1 d -> n (h d)"))


class ClassTokenPooling(nn.Module):
    """A pre-norm transformer layer over a class token and a set of tokens; returns the class token.

    The official ``spatial_attn_agg`` (a ``torch.nn.TransformerEncoderLayer`` with ``norm_first``, GELU,
    LayerNorm eps 1e-6) pools one time step's patches into one feature. Only the class token's output is
    needed, so only its query is computed, and the feed-forward runs on it alone.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.self_attn = PackedSelfAttention(dim, heads)
        self.linear1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.linear2 = nn.Linear(int(dim * mlp_ratio), dim)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (N, L, D) → (N, D)."""
        x = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        pooled = x[:, 0] + self.self_attn.first_query(self.norm1(x))
        return pooled + self.linear2(F.gelu(self.linear1(self.norm2(pooled))))


class Conv2dStem(nn.Module):
    """The official 2-D ``patch_embed``: stored in the released weights, never used (the 3-D one is)."""

    def __init__(self, dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)


class TubeletEmbed(nn.Module):
    """The official ``patch_embed_3d``: tubelets of 2 frames × patch × patch pixels → one token each."""

    def __init__(self, dim: int, patch_size: int) -> None:
        super().__init__()
        size = (TUBELET, patch_size, patch_size)
        self.proj = nn.Conv3d(3, dim, kernel_size=size, stride=size)

    def forward(self, segments: Tensor) -> Tensor:
        """Segments (N, 16, 3, H, W) → tokens (N, 8, P, D), P = (H / patch) · (W / patch)."""
        tokens = self.proj(rearrange(segments, "n t c h w -> n c t h w"))
        return rearrange(tokens, "n d t gh gw -> n t (gh gw) d")


# --------------------------------------------------------------------------- the encoder


class Synchformer(SyncEncoder):
    """Synchformer's visual extractor: 25 fps frames → MMAudio's sync features (768 each, 24 a second).

    Three ways in:

    - :meth:`mmaudio_features` — frames (B, T, 3, 224, 224) already preprocessed as MMAudio does →
      exactly MMAudio's ``encode_video_with_sync``: (B, 8 · S, D) with S = :func:`num_segments` (T).
    - :meth:`encode` — the :class:`~foleyzoo.api.SyncEncoder` interface: a :class:`~foleyzoo.api.Video` in
      [0, 1] at any rate → ``round(T · 24 / 25)`` features at :attr:`feature_rate` = 24 (T frames at 25
      fps). Frames at another rate are first resampled to 25 fps (the nearest earlier frame), each frame
      is resized (shorter side to ``image_size``, bicubic with antialiasing, clamped to [0, 1] like the
      8-bit frames MMAudio resizes) and centre-cropped, and normalised with mean = std = 0.5. The features
      are MMAudio's concatenation, cut to that length; the segments it needs past the clip's end read
      copies of its last frame. For 8 s and 10 s (200 and 250 frames) this is exactly MMAudio's; for other
      lengths the first ``min(8 · S, round(T · 24 / 25))`` features are. Frames the video's mask marks
      invalid are replaced by the nearest earlier valid frame; the output mask is the frame mask sampled
      at each feature's time.
    - :meth:`encode_segments` — preprocessed segments (N, 16, 3, S, S) → (N, 8, D).

    ``checkpoint`` (or :meth:`from_file`) loads MMAudio's ``synchformer_state_dict.pth``: read with
    ``weights_only=True``; the ``vfeat_extractor.`` keys, prefix stripped, must match this network
    exactly (a file of those keys alone, unprefixed, works too). Keys of Synchformer's other parts (its
    audio extractor and offset classifier) are set aside, named in a log line and in
    :attr:`set_aside_keys`. Any mismatch raises :class:`~foleyzoo.errors.ConfigError` naming the file
    and the keys. With a checkpoint and ``freeze`` the encoder has no trainable parameters and stays in
    eval mode.

    ``feature_count="segments"`` returns MMAudio's count instead, 8 · :func:`num_segments` (T) (at least
    one segment): what MMAudio's networks were trained on for every clip length, where the default
    keeps the feature rate (they agree at 8 s and 10 s). Bundles of MMAudio's networks use it.

    The defaults are the released network (ViT-B, 224 px, 122.4 M parameters). The architecture
    arguments exist for tests and small experiments; the official code ties the number of spatial
    positions to 224 / ``patch_size``, so ``image_size`` other than 224 matches no official network.
    """

    api_version = "1.0"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        freeze: bool = True,
        embed_dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        image_size: int = 224,
        patch_size: int = 16,
        feature_count: str = "rate",
    ) -> None:
        super().__init__()
        if feature_count not in ("rate", "segments"):
            raise ValueError(f"feature_count must be 'rate' or 'segments', got {feature_count!r}")
        self.feature_count = feature_count
        problems = [
            f"{name} ({value}) must be a positive multiple of {unit_name} ({unit})"
            for name, value, unit_name, unit in (
                ("image_size", image_size, "patch_size", patch_size),
                ("embed_dim", embed_dim, "heads", heads),
            )
            if unit < 1 or value < 1 or value % unit
        ]
        if depth < 1:
            problems.append(f"depth ({depth}) must be at least 1")
        if problems:
            raise ValueError(f"{type(self).__name__}: " + "; ".join(problems))
        self._frozen = False
        self._embed_dim = embed_dim
        self.image_size, self.patch_size = image_size, patch_size
        self.config = {
            "embed_dim": embed_dim,
            "depth": depth,
            "heads": heads,
            "mlp_ratio": mlp_ratio,
            "image_size": image_size,
            "patch_size": patch_size,
            "feature_count": feature_count,
        }
        self.set_aside_keys: tuple[str, ...] = ()
        steps, positions = SEGMENT_FRAMES // TUBELET, (image_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + positions, embed_dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, steps, embed_dim))
        self.patch_embed = Conv2dStem(embed_dim, patch_size)
        self.patch_embed_3d = TubeletEmbed(embed_dim, patch_size)
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(embed_dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=LAYER_NORM_EPS)
        self.spatial_attn_agg = ClassTokenPooling(embed_dim, heads, mlp_ratio)
        self.patch_embed.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self._init_weights()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
            if freeze:
                self._frozen = True
                self.requires_grad_(False)
                self.eval()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Synchformer:
        """The network with the weights of ``path`` (MMAudio's ``synchformer_state_dict.pth``) loaded."""
        return cls(checkpoint=path, **kwargs)

    def _init_weights(self) -> None:
        for parameter in (self.cls_token, self.pos_embed, self.temp_embed, self.spatial_attn_agg.cls_token):
            nn.init.trunc_normal_(parameter, std=0.02)
        nn.init.xavier_uniform_(self.spatial_attn_agg.self_attn.in_proj_weight)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    @property
    def fps(self) -> float:
        return FPS

    @property
    def feature_rate(self) -> float:
        return FEATURE_RATE

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    @property
    def frozen(self) -> bool:
        """True when loaded weights are frozen (no gradients, eval mode kept)."""
        return self._frozen

    def train(self, mode: bool = True) -> Synchformer:
        """Like ``nn.Module.train``, except that a frozen encoder stays in eval mode."""
        return super().train(mode and not self._frozen)

    # ------------------------------------------------------------------ computing

    def encode_segments(self, segments: Tensor) -> Tensor:
        """Preprocessed segments (N, 16, 3, S, S) → 8 features each (N, 8, D)."""
        if segments.dim() != 5 or segments.shape[1] != SEGMENT_FRAMES or segments.shape[2] != 3:
            raise ValueError(f"segments must be (N, {SEGMENT_FRAMES}, 3, H, W), got {tuple(segments.shape)}")
        tokens = self.patch_embed_3d(segments)
        steps, positions = tokens.shape[1:3]
        if positions != self.pos_embed.shape[1] - 1:
            raise ValueError(
                f"segments of {tuple(segments.shape[-2:])} pixels give {positions} patches; this network "
                f"has {self.pos_embed.shape[1] - 1} positions ({self.image_size} px, patch {self.patch_size})"
            )
        grid = self.pos_embed[:, None, 1:] + self.temp_embed[:, :, None]  # (1, steps, P, D)
        x = torch.cat(
            [
                (self.cls_token + self.pos_embed[:, :1]).expand(tokens.shape[0], -1, -1),
                rearrange(tokens + grid, "n t p d -> n (t p) d"),
            ],
            dim=1,
        )
        for block in self.blocks:
            x = block(x, steps)
        x = rearrange(self.norm(x[:, 1:]), "n (t p) d -> (n t) p d", t=steps)
        return rearrange(self.spatial_attn_agg(x), "(n t) d -> n t d", t=steps)

    def mmaudio_features(self, frames: Tensor, segments_per_batch: int | None = None) -> Tensor:
        """MMAudio's ``encode_video_with_sync``: preprocessed frames (B, T, 3, S, S) → (B, 8 · S, D).

        S = :func:`num_segments` (T); segment k is frames ``[8k, 8k + 16)`` and its 8 features follow
        those of segment k − 1. ``segments_per_batch`` bounds how many segments run at once.
        """
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must be (B, T, 3, H, W), got {tuple(frames.shape)}")
        count = num_segments(frames.shape[1])
        if count < 1:
            raise ValueError(f"Synchformer needs at least {SEGMENT_FRAMES} frames, got {frames.shape[1]}")
        segments = rearrange(cut_segments(frames, count), "b s t c h w -> (b s) t c h w")
        step = segments.shape[0] if segments_per_batch is None else max(1, segments_per_batch)
        features = torch.cat(
            [self.encode_segments(segments[i : i + step]) for i in range(0, segments.shape[0], step)]
        )
        return rearrange(features, "(b s) t d -> b (s t) d", b=frames.shape[0])

    def preprocess(self, frames: Tensor) -> Tensor:
        """Frames (N, 3, H, W) in [0, 1] → (N, 3, S, S): shorter side to S (bicubic, antialiased, clamped
        to [0, 1]), centre crop, (x − 0.5) / 0.5, as MMAudio's ``sync_transform``."""
        size = self.image_size
        height, width = frames.shape[-2:]
        if (height, width) != (size, size):
            if height <= width:
                new_size = (size, int(size * width / height))
            else:
                new_size = (int(size * height / width), size)
            frames = F.interpolate(frames, size=new_size, mode="bicubic", align_corners=False, antialias=True)
            frames = frames.clamp(0.0, 1.0)
            top = round((new_size[0] - size) / 2.0)
            left = round((new_size[1] - size) / 2.0)
            frames = frames[..., top : top + size, left : left + size]
        return (frames - self.mean.to(frames)) / self.std.to(frames)

    def encode(self, video: Video) -> FrameFeatures:
        frames, mask = video.frames, video.mask
        if video.fps > 0 and not math.isclose(video.fps, FPS):
            index = resampled_index(frames.shape[1], video.fps, FPS, frames.device)
            frames = frames[:, index]
            mask = None if mask is None else mask[:, index]
        batch, length = frames.shape[:2]
        if mask is not None:
            frames = fill_invalid_frames(frames, mask)
        frames = self.preprocess(rearrange(frames, "b t c h w -> (b t) c h w"))
        frames = rearrange(frames, "(b t) c h w -> b t c h w", b=batch)
        if self.feature_count == "segments":  # MMAudio's own count: whole segments of the frames given
            count = max(1, num_segments(length)) * (SEGMENT_FRAMES // TUBELET)
        else:
            count = max(1, round(length * FEATURE_RATE / FPS))
        segments = -(-count // (SEGMENT_FRAMES // TUBELET))
        needed = (segments - 1) * SEGMENT_STEP + SEGMENT_FRAMES
        if needed > length:
            frames = torch.cat([frames, frames[:, -1:].expand(-1, needed - length, -1, -1, -1)], dim=1)
        values = self.mmaudio_features(frames[:, :needed])[:, :count]
        times = torch.div(
            torch.arange(count, device=values.device) * FPS, FEATURE_RATE, rounding_mode="floor"
        )
        if mask is None:
            out_mask = torch.ones(batch, count, dtype=torch.bool, device=values.device)
        else:
            out_mask = mask[:, times.long().clamp(max=length - 1)]
        return FrameFeatures(values=values, fps=FEATURE_RATE, mask=out_mask)

    # ------------------------------------------------------------------ weights

    def load_checkpoint(self, path: str | Path) -> None:
        """Load Synchformer's weights from a local file (see the class); ConfigError naming it if they do not fit."""
        self.load_weights(read_weights(path, "Synchformer", NESTED_KEYS), str(path))

    def load_weights(self, stored: Mapping[str, Tensor], source: str) -> None:
        """Load a state dict in the official layout (``vfeat_extractor.`` keys, or those keys unprefixed)."""
        own = {
            key[len(CHECKPOINT_PREFIX) :]: value
            for key, value in stored.items()
            if key.startswith(CHECKPOINT_PREFIX)
        }
        others = tuple(sorted(key for key in stored if not key.startswith(CHECKPOINT_PREFIX)))
        if not own:
            own, others = dict(stored), ()
        problem = state_dict_mismatch(self.state_dict(), own)
        if problem:
            settings = ", ".join(f"{key}={value}" for key, value in self.config.items())
            raise ConfigError(
                f"{source}: not the weights of Synchformer's visual extractor ({CHECKPOINT_PREFIX}*) for "
                f"this configuration ({settings}): {problem}"
            )
        self.load_state_dict(own, strict=True)
        self.set_aside_keys = others
        if others:
            parts = sorted({key.split(".")[0] for key in others})
            log.info(
                "%s: loaded %d keys of %s*; set aside %d keys of Synchformer's other parts (%s)",
                source,
                len(own),
                CHECKPOINT_PREFIX,
                len(others),
                ", ".join(parts),
            )


def resampled_index(frames: int, fps: float, target: float, device: torch.device | None = None) -> Tensor:
    """Indices of the frames shown at ``target`` fps: output frame i is the last source frame at or before
    time i / target; ``floor(frames · target / fps)`` of them (at least one)."""
    count = max(1, math.floor(frames * target / fps + 1e-6))
    index = torch.floor(torch.arange(count, dtype=torch.float64, device=device) * fps / target + 1e-6)
    return index.long().clamp(max=frames - 1)


def __getattr__(name: str) -> Any:
    """``SynchformerEncoder``, the deprecated name of foleyzoo's own MotionFormerSyncEncoder, still imports."""
    if name == "SynchformerEncoder":
        return motionformer.SynchformerEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
