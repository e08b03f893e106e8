"""MMDiT: Kling-Foley's multimodal diffusion transformer, the flow network over audio latents.

Audio latents, visual frames and text tokens each get their own projections and attend jointly in
``joint_blocks`` SD3-style blocks; ``single_blocks`` over the audio tokens alone follow. Every block is
modulated (adaLN-zero) by a global vector — flow time + pooled text + pooled visual + duration (clip
start and length) — and the audio tokens' modulation also carries the sync features, resampled to the
latent rate, frame by frame. Rotary positions count seconds on one axis for audio and video.

A missing modality — absent from :class:`~foleyzoo.api.Conditions`, or a batch row whose mask is all
False (how classifier-free-guidance dropout marks it) — is replaced by a learnable placeholder.

Everything that depends on the conditions alone (context tokens, pooled vectors, duration and sync
embeddings, masks, rotary tables) is computed in one step, :meth:`MMDiT.prepare`. Without gradients the
last result is reused while the same ``Conditions`` object comes back with unchanged tensors and
weights, so a sampler's steps run it once (and its host synchronisations, the mask checks, once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import AttentionBackend, Conditions, Denoiser, FrameFeatures, TextFeatures
from foleyzoo.mmdit.attention import attention_backend
from foleyzoo.mmdit.blocks import FinalLayer, JointBlock, SingleBlock, Stream
from foleyzoo.mmdit.rope import TimeRotary, token_times

__all__ = ["MMDiT", "PreparedConditions", "resample_to_frames", "sinusoidal_embedding"]


def sinusoidal_embedding(values: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """(B,) scalars → (B, dim) sin/cos features at geometric frequencies (DiT's timestep embedding)."""
    half = dim // 2
    frequencies = torch.exp(
        -math.log(max_period) * torch.arange(half, device=values.device, dtype=torch.float32) / half
    )
    angles = values.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


SYNC_RESAMPLING = ("nearest", "linear")
"""How sync features reach the audio-token rate: the feature shown at a token's centre, or interpolated."""


def resample_to_frames(
    features: Tensor, fps: float, frames: int, frame_rate: float, mode: str = "nearest"
) -> Tensor:
    """(B, T, D) features at ``fps`` → (B, frames, D) at ``frame_rate``, read at each frame's centre.

    ``"nearest"``: the feature shown at that instant (feature i covers [i / fps, (i + 1) / fps)).
    ``"linear"``: interpolated between the two features whose centres, (i + 0.5) / fps, surround it,
    so a token's input also says where between two video frames it lies.
    """
    if mode not in SYNC_RESAMPLING:
        raise ValueError(f"resampling mode must be one of {SYNC_RESAMPLING}, got {mode!r}")
    centres = (torch.arange(frames, device=features.device, dtype=torch.float64) + 0.5) / frame_rate
    last = features.shape[1] - 1
    if mode == "nearest":
        return features[:, (centres * fps).floor().long().clamp(0, last)]
    position = (centres * fps - 0.5).clamp(0, last)
    below = position.floor().long()
    above = (below + 1).clamp(max=last)
    weight = (position - below.double()).to(features.dtype)[None, :, None]
    return features[:, below] * (1 - weight) + features[:, above] * weight


def _present(mask: Tensor | None, batch: int, device: torch.device) -> Tensor:
    """(B,) True for rows that hold at least one real token."""
    if mask is None:
        return torch.ones(batch, dtype=torch.bool, device=device)
    return mask.any(dim=1)


@dataclass(frozen=True)
class PreparedConditions:
    """What a forward pass takes from the conditions alone, for one batch size, length and latent mask.

    ``context``: the visual and text streams' tokens (B, L, hidden), key masks (None: all real) and
    rotary tables; ``condition``: (B, hidden) duration + pooled visual + pooled text embeddings (the flow
    time's is added per call); ``sync``: the audio tokens' extra modulation (B, tokens or 1, hidden);
    ``audio_mask``: the audio tokens' key mask (None: all real); ``audio_rotary``: their rotary tables;
    ``sync_tokens``: what the sync features add to the audio tokens' input (B, tokens, hidden), or None.
    """

    context: list[tuple[Tensor, Tensor | None, tuple[Tensor, Tensor] | None]]
    condition: Tensor
    sync: Tensor
    audio_mask: Tensor | None
    audio_rotary: tuple[Tensor, Tensor]
    sync_tokens: Tensor | None = None


@dataclass(frozen=True)
class MMDiTConditions(Conditions):
    """:class:`~foleyzoo.api.Conditions` with what :meth:`MMDiT.prepare` computed from them, for latents of
    ``batch`` rows and ``frames`` frames under ``mask``; a forward of another shape or mask recomputes."""

    prepared: PreparedConditions | None = None
    batch: int = 0
    frames: int = 0
    mask: Tensor | None = None


class _Embedder(nn.Sequential):
    """Linear → SiLU → Linear: a scalar's sinusoidal features or a pooled vector to the hidden size."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))


class MMDiT(Denoiser):
    """The MM-DiT velocity network: latents (B, T, C) at flow time t (B,) given conditions → velocity (B, T, C).

    ``latent_dim``/``latent_rate`` are the codec's; ``visual_dim``/``visual_rate``, ``text_dim`` and
    ``sync_dim`` the encoders' (None leaves a modality out of the network). ``attention`` picks the
    backend: an :class:`~foleyzoo.api.AttentionBackend` or one of ``"sdpa"``, ``"xformers"``, ``"naive"``.
    ``patch`` groups that many latent frames into one audio token (fewer tokens, same output length).

    ``sync_input`` also adds the sync features, projected, to the audio tokens as they enter the network
    (an addition to the paper's per-block modulation: timing is in the residual stream from the first
    block on). Rows without sync features get nothing added. ``sync_resampling`` is how the sync
    features reach the token rate (:func:`resample_to_frames`): ``"nearest"`` (the default, as models
    trained before the option) or ``"linear"``.

    :meth:`prepare` computes what a forward pass takes from the conditions alone (context tokens, pooled
    vectors, duration and sync embeddings, masks and rotary tables); a sampler's velocity function calls
    it once a sampling and passes the :class:`MMDiTConditions` it returns to every step. Given plain
    :class:`~foleyzoo.api.Conditions`, a forward computes the same itself. The network keeps no state
    between calls.
    """

    def __init__(
        self,
        latent_dim: int = 40,
        latent_rate: float = 44100 / 1024,
        visual_dim: int | None = 1024,
        visual_rate: float = 8.0,
        text_dim: int | None = 768,
        sync_dim: int | None = 768,
        hidden: int = 448,
        heads: int = 7,
        joint_blocks: int = 4,
        single_blocks: int = 8,
        mlp_ratio: float = 4.0,
        attention: AttentionBackend | str | None = None,
        rope_theta: float = 10000.0,
        frequency_dim: int = 256,
        patch: int = 1,
        sync_input: bool = False,
        sync_resampling: str = "nearest",
    ) -> None:
        super().__init__()
        if sync_resampling not in SYNC_RESAMPLING:
            raise ValueError(f"sync_resampling must be one of {SYNC_RESAMPLING}, got {sync_resampling!r}")
        self.sync_resampling = sync_resampling
        if patch < 1:
            raise ValueError(f"patch must be >= 1 latent frames a token, got {patch}")
        if joint_blocks < 1:
            raise ValueError(f"MMDiT needs at least one joint block, got joint_blocks={joint_blocks}")
        self.latent_dim = latent_dim
        self.latent_rate = latent_rate
        self.visual_dim = visual_dim
        self.visual_rate = visual_rate
        self.text_dim = text_dim
        self.sync_dim = sync_dim
        self.hidden = hidden
        self.frequency_dim = frequency_dim
        self.patch = patch
        self.sync_input = sync_input and sync_dim is not None
        self.attention = attention_backend(attention)
        self.rotary = TimeRotary(hidden // heads, rate=latent_rate, theta=rope_theta)

        self.audio_in = nn.Linear(latent_dim * patch, hidden)
        self.time_embed = _Embedder(frequency_dim, hidden)
        self.duration_embed = _Embedder(2 * frequency_dim, hidden)
        self.context_streams = 0
        if visual_dim is not None:
            self.visual_in = nn.Linear(visual_dim, hidden)
            self.visual_pool = _Embedder(visual_dim, hidden)
            self.visual_placeholder = nn.Parameter(torch.randn(hidden) * 0.02)
            self.visual_pool_placeholder = nn.Parameter(torch.zeros(hidden))
            self.context_streams += 1
        if text_dim is not None:
            self.text_in = nn.Linear(text_dim, hidden)
            self.text_pool = _Embedder(text_dim, hidden)
            self.text_placeholder = nn.Parameter(torch.randn(hidden) * 0.02)
            self.text_pool_placeholder = nn.Parameter(torch.zeros(hidden))
            self.context_streams += 1
        if sync_dim is not None:
            self.sync_in = _Embedder(sync_dim, hidden)
            self.sync_placeholder = nn.Parameter(torch.zeros(hidden))
            if self.sync_input:
                self.sync_tokens = nn.Linear(sync_dim, hidden)
        self.joint = nn.ModuleList(
            JointBlock(
                hidden,
                heads,
                mlp_ratio,
                streams=1 + self.context_streams,
                context_pre_only=index == joint_blocks - 1,
            )
            for index in range(joint_blocks)
        )
        self.single = nn.ModuleList(SingleBlock(hidden, heads, mlp_ratio) for _ in range(single_blocks))
        self.final = FinalLayer(hidden, latent_dim * patch)

    # ------------------------------------------------------------------ conditioning

    def _context(
        self,
        features: Tensor | None,
        mask: Tensor | None,
        project: nn.Module,
        placeholder: Tensor,
        batch: int,
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """Tokens (B, L, hidden), their mask (None: all real) and which rows are present; absent rows hold one placeholder token."""
        device = placeholder.device
        if features is None:
            tokens = placeholder.expand(batch, 1, -1)
            return tokens, None, torch.zeros(batch, dtype=torch.bool, device=device)
        present = _present(mask, batch, device)
        length = features.shape[1]
        tokens = project(features)
        tokens = torch.where(present[:, None, None], tokens, placeholder.to(tokens.dtype))
        real = mask if mask is not None else torch.ones(batch, length, dtype=torch.bool, device=device)
        only_first = torch.zeros_like(real)
        only_first[:, 0] = True
        token_mask = torch.where(present[:, None], real, only_first)
        return tokens, (None if bool(token_mask.all()) else token_mask), present

    def _pooled(
        self,
        values: Tensor | None,
        mask: Tensor | None,
        present: Tensor,
        pool: nn.Module,
        placeholder: Tensor,
    ) -> Tensor:
        """(B, hidden): the projected masked mean of ``values`` (B, L, D), or the placeholder for absent rows."""
        if values is None:
            return placeholder.expand(present.shape[0], -1)
        weights = (mask if mask is not None else torch.ones(values.shape[:2], device=values.device)).to(
            values.dtype
        )
        mean = (values * weights[..., None]).sum(1) / weights.sum(1, keepdim=True).clamp_min(1.0)
        return torch.where(present[:, None], pool(mean), placeholder.to(values.dtype))

    def _check_dim(self, what: str, expected: int | None, found: int) -> None:
        if expected is not None and found != expected:
            raise ValueError(f"MMDiT was built for {what} of dimension {expected}, got features of {found}")

    def _duration_condition(
        self, conditions: Conditions, batch: int, frames: int, mask: Tensor | None, device: torch.device
    ) -> Tensor:
        """(B, hidden): the clip's start and length embedded (from the latents' mask when not given)."""
        dtype = self.audio_in.weight.dtype
        duration = conditions.duration
        if duration is None:  # the latents themselves say how long the clip is, starting at 0
            valid = mask.sum(1).float() if mask is not None else torch.full((batch,), float(frames))
            duration = torch.stack([torch.zeros_like(valid), valid / self.latent_rate], dim=1).to(device)
        duration_features = torch.cat(
            [sinusoidal_embedding(duration[:, index] * 100.0, self.frequency_dim) for index in range(2)], -1
        )
        return self.duration_embed(duration_features.to(dtype))

    def _time_condition(self, t: Tensor) -> Tensor:
        """(B, hidden): the flow time embedded."""
        dtype = self.audio_in.weight.dtype
        return self.time_embed(sinusoidal_embedding(t * 1000.0, self.frequency_dim).to(dtype))

    # ------------------------------------------------------------------ forward

    def prepare(self, conditions: Conditions, x: Tensor, mask: Tensor | None = None) -> MMDiTConditions:
        """``conditions`` with everything a forward pass of latents shaped as ``x`` (B, T, C) under ``mask``
        takes from them alone (see :class:`MMDiTConditions`)."""
        batch, frames, _ = x.shape
        fields = {name: getattr(conditions, name) for name in ("text", "visual", "sync", "duration")}
        prepared = self.prepare_tensors(conditions, batch, frames, mask)
        return MMDiTConditions(**fields, prepared=prepared, batch=batch, frames=frames, mask=mask)

    def prepare_tensors(
        self, conditions: Conditions, batch: int, frames: int, mask: Tensor | None = None
    ) -> PreparedConditions:
        """Everything a forward pass of ``batch`` rows of ``frames`` latent frames takes from the conditions alone."""
        device = self.audio_in.weight.device
        condition = self._duration_condition(conditions, batch, frames, mask, device)
        audio_mask = self._token_mask(mask)
        audio_tokens = -(-frames // self.patch)
        token_rate = self.latent_rate / self.patch
        context: list[tuple[Tensor, Tensor | None, tuple[Tensor, Tensor] | None]] = []
        if self.visual_dim is not None:
            visual: FrameFeatures | None = conditions.visual
            values = visual.values if visual is not None else None
            if values is not None:
                self._check_dim("visual features", self.visual_dim, values.shape[-1])
            vmask = visual.mask if visual is not None else None
            tokens, token_mask, present = self._context(
                values, vmask, self.visual_in, self.visual_placeholder, batch
            )
            rate = visual.fps if visual is not None else self.visual_rate
            rotary = self.rotary.angles(token_times(tokens.shape[1], rate, device))
            context.append((tokens, token_mask, rotary))
            condition = condition + self._pooled(
                values, vmask, present, self.visual_pool, self.visual_pool_placeholder
            )
        if self.text_dim is not None:
            text: TextFeatures | None = conditions.text
            values = text.tokens if text is not None else None
            if values is not None:
                self._check_dim("text features", self.text_dim, values.shape[-1])
            tmask = text.mask if text is not None else None
            tokens, token_mask, present = self._context(
                values, tmask, self.text_in, self.text_placeholder, batch
            )
            context.append((tokens, token_mask, None))
            pooled = text.pooled if text is not None else None
            pooled_condition = (
                self.text_pool_placeholder.expand(batch, -1)
                if pooled is None
                else torch.where(present[:, None], self.text_pool(pooled), self.text_pool_placeholder)
            )
            condition = condition + pooled_condition
        return PreparedConditions(
            context=context,
            condition=condition,
            sync=self._sync_condition(conditions.sync, batch, audio_tokens, token_rate),
            audio_mask=audio_mask,
            audio_rotary=self.rotary.angles(token_times(audio_tokens, token_rate, device)),
            sync_tokens=self._sync_input(conditions.sync, batch, audio_tokens, token_rate),
        )

    def forward(self, x: Tensor, t: Tensor, conditions: Conditions, mask: Tensor | None = None) -> Tensor:
        batch, frames, channels = x.shape
        if channels != self.latent_dim:
            raise ValueError(f"MMDiT was built for {self.latent_dim} latent channels, got {channels}")
        if (
            isinstance(conditions, MMDiTConditions)
            and conditions.prepared is not None
            and (conditions.batch, conditions.frames) == (batch, frames)
            and conditions.mask is mask
        ):
            prepared = conditions.prepared
        else:
            prepared = self.prepare_tensors(conditions, batch, frames, mask)
        condition = prepared.condition + self._time_condition(t)
        audio_condition = condition[:, None, :] + prepared.sync
        context_condition = condition[:, None, :]
        audio_activated, context_activated = F.silu(audio_condition), F.silu(context_condition)
        audio_mask = prepared.audio_mask
        audio_tokens = self.audio_in(self._patchify(x))
        if prepared.sync_tokens is not None:
            audio_tokens = audio_tokens + prepared.sync_tokens
        audio = Stream(
            audio_tokens,
            audio_mask,
            audio_condition,
            prepared.audio_rotary,
            audio_activated,
        )
        context = [
            Stream(tokens, m, context_condition, rotary, context_activated)
            for tokens, m, rotary in prepared.context
        ]
        for block in self.joint:
            updated = block([audio, *context], self.attention)
            audio = replace(audio, x=updated[0])
            context = [
                replace(stream, x=tokens) for tokens, stream in zip(updated[1:], context, strict=False)
            ]
        for block in self.single:
            audio = replace(audio, x=block(audio, self.attention))
        out = self.final(audio.x, audio_condition, audio_activated)  # (B, tokens, patch · C)
        return out.reshape(batch, -1, channels)[:, :frames]

    def _patchify(self, x: Tensor) -> Tensor:
        """(B, T, C) latents → (B, ceil(T / patch), patch · C) tokens (the last padded with zero frames)."""
        batch, frames, _ = x.shape
        extra = -frames % self.patch
        if extra:
            x = F.pad(x, (0, 0, 0, extra))
        return x.reshape(batch, -1, self.patch * x.shape[-1])

    def _token_mask(self, mask: Tensor | None) -> Tensor | None:
        """(B, T) frame mask → (B, tokens) token mask (a token with any valid frame); None when all are valid."""
        if mask is None or bool(mask.all()):
            return None  # every token real: attention needs no mask (fused kernels)
        extra = -mask.shape[1] % self.patch
        if extra:
            mask = F.pad(mask, (0, extra))
        return mask.reshape(mask.shape[0], -1, self.patch).any(dim=2)

    def _sync_condition(
        self, sync: FrameFeatures | None, batch: int, tokens: int, token_rate: float
    ) -> Tensor:
        """(B, tokens, hidden) or (B, 1, hidden): sync features at the audio-token rate, or the placeholder."""
        if self.sync_dim is None:
            return torch.zeros(1, 1, self.hidden, device=self.audio_in.weight.device)
        if sync is None:
            return self.sync_placeholder.expand(batch, 1, -1)
        self._check_dim("sync features", self.sync_dim, sync.values.shape[-1])
        aligned = resample_to_frames(sync.values, sync.fps, tokens, token_rate, self.sync_resampling)
        present = _present(sync.mask, batch, aligned.device)
        return torch.where(present[:, None, None], self.sync_in(aligned), self.sync_placeholder)

    def _sync_input(
        self, sync: FrameFeatures | None, batch: int, tokens: int, token_rate: float
    ) -> Tensor | None:
        """(B, tokens, hidden): the sync features projected for the audio tokens' input (zero for absent rows), or None."""
        if not self.sync_input or sync is None:
            return None
        self._check_dim("sync features", self.sync_dim, sync.values.shape[-1])
        aligned = resample_to_frames(sync.values, sync.fps, tokens, token_rate, self.sync_resampling)
        present = _present(sync.mask, batch, aligned.device)
        return self.sync_tokens(aligned) * present[:, None, None].to(aligned.dtype)
