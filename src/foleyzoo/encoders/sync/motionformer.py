"""foleyzoo's own MotionFormer-style sync encoder: overlapping 16-frame windows through a video ViT.

Like Synchformer (Iashin et al. 2024) it cuts video into 16-frame windows taken every 8 frames; each
window goes through a video transformer with 2-frame tubelets and divided space-time attention and
yields 8 temporal features after spatial pooling. Unlike Synchformer it has no class token and pools by
the spatial mean, and it stitches the overlapping windows into one feature a frame (see
:class:`MotionFormerSyncEncoder` for the rule), so features come at ``feature_rate == fps``. Weights
load from a local file in this module's own parameter layout; no trained weights are published.

Up to foleyzoo 0.2.0 it was called ``SynchformerEncoder``; that name (entry point and class path
``foleyzoo.encoders.sync.synchformer.SynchformerEncoder``) still builds it, with a DeprecationWarning.
The name Synchformer now means the official network: :class:`foleyzoo.encoders.sync.synchformer.Synchformer`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from foleyzoo.api import FrameFeatures, SyncEncoder, Video
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import read_weights, state_dict_mismatch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NESTED_KEYS = ("state_dict", "model")
"""Keys under which a checkpoint file may nest its state dict (Lightning, most training scripts)."""


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis, computed by ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = rearrange(self.qkv(x), "n l (three h d) -> three n h l d", three=3, h=self.heads)
        return self.proj(rearrange(F.scaled_dot_product_attention(q, k, v), "n h l d -> n l (h d)"))


class Mlp(nn.Module):
    """The transformer's two-layer GELU feed-forward."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    """Pre-norm block: attention across time (per patch), then across space (per time step), then the MLP.

    Factorising attention keeps its cost linear in time × space instead of quadratic in their product.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_time = nn.LayerNorm(dim, eps=1e-6)
        self.attn_time = Attention(dim, heads)
        self.norm_space = nn.LayerNorm(dim, eps=1e-6)
        self.attn_space = Attention(dim, heads)
        self.norm_mlp = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, round(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        """x (N, t, s, D) tokens of N windows with t time steps of s patches → same shape."""
        n, t, s, _ = x.shape
        x_time = rearrange(x, "n t s d -> (n s) t d")
        x_time = x_time + self.attn_time(self.norm_time(x_time))
        x_space = rearrange(x_time, "(n s) t d -> (n t) s d", n=n, s=s)
        x_space = x_space + self.attn_space(self.norm_space(x_space))
        x_space = x_space + self.mlp(self.norm_mlp(x_space))
        return rearrange(x_space, "(n t) s d -> n t s d", n=n, t=t)


class PatchEmbed(nn.Module):
    """Tubelets of ``tubelet`` frames × ``patch`` × ``patch`` pixels → one token each (a strided 3-D conv)."""

    def __init__(self, dim: int, patch_size: int, tubelet: int) -> None:
        super().__init__()
        size = (tubelet, patch_size, patch_size)
        self.proj = nn.Conv3d(3, dim, kernel_size=size, stride=size)

    def forward(self, windows: Tensor) -> Tensor:
        """Windows (N, W, 3, H, W) → tokens (N, W / tubelet, patches, D)."""
        tokens = self.proj(rearrange(windows, "n t c h w -> n c t h w"))
        return rearrange(tokens, "n d t gh gw -> n t (gh gw) d")


class MotionFormerSyncEncoder(SyncEncoder):
    """Frames (B, T, 3, H, W) at ``fps`` → one sync feature a frame (B, T, D) at ``feature_rate == fps``.

    Segmenting rule (``window`` = 16, ``stride`` = 8 by default): windows start every ``stride`` frames,
    ``n = max(1, ceil((T - window) / stride) + 1)`` of them, and the clip is padded at the end with copies
    of its last frame to ``(n - 1) * stride + window`` frames so every frame lies in a window. Each window
    becomes ``window / tubelet`` tokens (8), spatially mean-pooled; each token stands for its ``tubelet``
    frames, which gives one feature a frame inside the window. Window k then supplies the features of the
    frames in its centre, ``[k·stride + m, k·stride + m + stride)`` with margin ``m = (window - stride) // 2``
    (frames 4 to 11 of each 16-frame window); the first window also supplies frames ``[0, m)`` and the last
    one every frame after its centre. So the output has exactly T features, one for each input frame
    (``round(T · feature_rate / fps) = T``), and the feature of frame f depends only on the frames of the
    window that supplies it: changing frames more than one window away leaves it unchanged.

    The output mask is the video's (all True without one). Frames the video mask marks invalid are replaced
    by the nearest earlier valid frame before windowing, so a clip's features do not depend on how much
    padding its batch added after it. Frames are resized (shorter side) and centre-cropped to
    ``image_size`` and normalised with ``mean``/``std``; they are assumed to be sampled at ``fps``.

    ``checkpoint`` loads weights from a local ``.safetensors`` or torch file (read with
    ``weights_only=True``), optionally nested under ``"state_dict"``/``"model"`` and with ``key_prefix``
    stripped from the keys that carry it (other keys are ignored); the weights must then match strictly.
    With a checkpoint and ``freeze`` the encoder is frozen: no trainable parameters, always in eval mode.
    """

    api_version = "1.0"

    def __init__(
        self,
        fps: float = 24.0,
        image_size: int = 224,
        patch_size: int = 16,
        tubelet: int = 2,
        window: int = 16,
        stride: int = 8,
        embed_dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        checkpoint: str | None = None,
        key_prefix: str | None = None,
        freeze: bool = True,
    ) -> None:
        super().__init__()
        self._frozen = False
        problems = [
            f"{name} ({value}) must be a positive multiple of {unit_name} ({unit})"
            for name, value, unit_name, unit in (
                ("image_size", image_size, "patch_size", patch_size),
                ("window", window, "tubelet", tubelet),
                ("embed_dim", embed_dim, "heads", heads),
            )
            if unit < 1 or value < 1 or value % unit
        ]
        if not 1 <= stride <= window:
            problems.append(f"stride ({stride}) must be between 1 and window ({window})")
        if len(mean) != 3 or len(std) != 3:
            problems.append(f"mean and std need 3 values each, got {len(mean)} and {len(std)}")
        if problems:
            raise ValueError(f"{type(self).__name__}: " + "; ".join(problems))
        self._fps, self._embed_dim = float(fps), embed_dim
        self.image_size, self.tubelet, self.window, self.stride = image_size, tubelet, window, stride
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

        self.patch_embed = PatchEmbed(embed_dim, patch_size, tubelet)
        self.pos_embed_space = nn.Parameter(torch.zeros(1, (image_size // patch_size) ** 2, embed_dim))
        self.pos_embed_time = nn.Parameter(torch.zeros(1, window // tubelet, embed_dim))
        self.blocks = nn.ModuleList(DividedSpaceTimeBlock(embed_dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self._init_weights()
        if checkpoint is not None:
            self.load_pretrained(checkpoint, key_prefix)
            if freeze:
                self._frozen = True
                self.requires_grad_(False)
                self.eval()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed_space, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_time, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def feature_rate(self) -> float:
        return self._fps

    @property
    def embed_dim(self) -> int:
        return self._embed_dim

    @property
    def frozen(self) -> bool:
        """True when loaded pretrained weights are frozen (no gradients, eval mode kept)."""
        return self._frozen

    def train(self, mode: bool = True) -> MotionFormerSyncEncoder:
        """Like ``nn.Module.train``, except that a frozen encoder stays in eval mode."""
        return super().train(mode and not self._frozen)

    # ------------------------------------------------------------------ encoding

    def num_windows(self, frames: int) -> int:
        """How many windows cover ``frames`` frames: ``max(1, ceil((frames - window) / stride) + 1)``."""
        return max(1, -(-(frames - self.window) // self.stride) + 1)

    def frame_owners(self, frames: int, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
        """For each frame, the window whose feature it takes and its position in that window: two (T,) tensors."""
        index = torch.arange(frames, device=device)
        margin = (self.window - self.stride) // 2
        owner = torch.div(index - margin, self.stride, rounding_mode="floor")
        owner = owner.clamp(0, self.num_windows(frames) - 1)
        return owner, index - owner * self.stride

    def preprocess(self, frames: Tensor) -> Tensor:
        """Frames (N, 3, H, W) in [0, 1] → resized (shorter side), centre-cropped, normalised (N, 3, S, S)."""
        size = self.image_size
        height, width = frames.shape[-2:]
        if (height, width) != (size, size):
            scale = size / min(height, width)
            new_size = (max(size, round(height * scale)), max(size, round(width * scale)))
            frames = F.interpolate(
                frames, size=new_size, mode="bilinear", align_corners=False, antialias=True
            )
            top, left = (new_size[0] - size) // 2, (new_size[1] - size) // 2
            frames = frames[..., top : top + size, left : left + size]
        return (frames - self.mean.to(frames)) / self.std.to(frames)

    def encode_windows(self, windows: Tensor) -> Tensor:
        """Preprocessed windows (N, window, 3, S, S) → per-time-step features (N, window / tubelet, D)."""
        tokens = self.patch_embed(windows)
        tokens = tokens + self.pos_embed_space[:, None] + self.pos_embed_time[:, :, None]
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens.mean(2))

    def encode(self, video: Video) -> FrameFeatures:
        frames, mask = video.frames, video.mask
        batch, length = frames.shape[:2]
        if mask is not None:
            frames = fill_invalid_frames(frames, mask)
        frames = self.preprocess(rearrange(frames, "b t c h w -> (b t) c h w"))
        frames = rearrange(frames, "(b t) c h w -> b t c h w", b=batch)
        count = self.num_windows(length)
        padded = (count - 1) * self.stride + self.window
        frames = torch.cat([frames, frames[:, -1:].expand(-1, padded - length, -1, -1, -1)], dim=1)
        starts = torch.arange(count, device=frames.device) * self.stride
        index = starts[:, None] + torch.arange(self.window, device=frames.device)
        windows = rearrange(frames[:, index], "b n t c h w -> (b n) t c h w")
        features = self.encode_windows(windows).repeat_interleave(self.tubelet, dim=1)
        features = rearrange(features, "(b n) t d -> b n t d", b=batch)
        owner, position = self.frame_owners(length, frames.device)
        values = features[:, owner, position]
        if mask is None:
            mask = torch.ones(batch, length, dtype=torch.bool, device=values.device)
        return FrameFeatures(values=values, fps=self.feature_rate, mask=mask)

    # ------------------------------------------------------------------ weights

    def load_pretrained(self, path: str | Path, key_prefix: str | None = None) -> None:
        """Load weights from a local file; a ConfigError naming it when it is unreadable or does not fit."""
        stored = read_state_dict(path, key_prefix)
        problem = state_dict_mismatch(self.state_dict(), stored)
        if problem:
            raise ConfigError(
                f"{path}: not a {type(self).__name__} checkpoint of this configuration "
                f"(embed_dim={self.embed_dim}, depth={len(self.blocks)}, "
                f"image_size={self.image_size}, window={self.window}): {problem}"
            )
        self.load_state_dict(stored, strict=True)

    def save_checkpoint(self, path: str | Path) -> None:
        """Write the weights to ``path``: safetensors for a ``.safetensors`` name, else ``torch.save``."""
        state = {key: value.detach().contiguous() for key, value in self.state_dict().items()}
        if Path(path).suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(path))
        else:
            torch.save(state, path)


def fill_invalid_frames(frames: Tensor, mask: Tensor) -> Tensor:
    """Replace each frame the mask marks invalid by the nearest earlier valid one (the first valid if none)."""
    index = torch.arange(frames.shape[1], device=frames.device).expand_as(mask)
    earlier = torch.where(mask, index, torch.full_like(index, -1)).cummax(dim=1).values
    first = torch.where(mask, index, torch.full_like(index, frames.shape[1])).min(dim=1, keepdim=True).values
    source = torch.where(earlier >= 0, earlier, first.clamp(max=frames.shape[1] - 1))
    source = torch.where(mask.any(dim=1, keepdim=True), source, index)
    return torch.gather(frames, 1, source[:, :, None, None, None].expand_as(frames))


def read_state_dict(path: str | Path, key_prefix: str | None = None) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` or torch file, unwrapped from ``NESTED_KEYS`` and with ``key_prefix`` stripped.

    Without ``key_prefix`` a ``module.`` prefix shared by every key (DataParallel) is stripped.
    """
    stored = read_weights(path, "MotionFormerSyncEncoder", NESTED_KEYS)
    if key_prefix is None and all(key.startswith("module.") for key in stored):
        key_prefix = "module."
    if key_prefix:
        stripped = {
            key[len(key_prefix) :]: value for key, value in stored.items() if key.startswith(key_prefix)
        }
        if not stripped:
            found = ", ".join(sorted(stored)[:6])
            raise ConfigError(f"{path}: no key starts with key_prefix {key_prefix!r} (found {found} …)")
        stored = stripped
    return stored


class SynchformerEncoder(MotionFormerSyncEncoder):
    """Deprecated name of :class:`MotionFormerSyncEncoder` (foleyzoo's own layout, not Synchformer's).

    Kept so that recipes and checkpoints that name ``SynchformerEncoder`` still build the same network
    and load the same weights; it warns once per construction. Use ``MotionFormerSyncEncoder`` for this
    network, or :class:`~foleyzoo.encoders.sync.synchformer.Synchformer` for the official one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "SynchformerEncoder was foleyzoo's own MotionFormer-style layout and is now called "
            "MotionFormerSyncEncoder (same arguments and weights); the name Synchformer means the "
            "official network (foleyzoo.encoders.sync.synchformer.Synchformer)",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)
