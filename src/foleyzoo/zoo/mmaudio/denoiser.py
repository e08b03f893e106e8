"""MMAudioDenoiser: MMAudio's video-to-audio MM-DiT as a foleyzoo denoiser, numerically equal to MMAudio.

It computes what MMAudio's ``MMAudio.forward(latent, clip_f, sync_f, text_f, t)`` computes, for every
released variant and any duration. Conditions come as foleyzoo records: CLIP frame features
(``Conditions.visual``, 8 fps), Synchformer features (``Conditions.sync``, in segments of 8) and CLIP text
tokens (``Conditions.text``). A modality that is ``None``, or a batch row whose mask is all False, gets
MMAudio's learned *raw* empty features (``empty_clip``, ``empty_sync``, ``empty_text``), pushed through
the same projections — what MMAudio does for a missing video or prompt and for guidance's
unconditional branch.

Everything that depends on the conditions alone is computed once by :meth:`MMAudioDenoiser.prepare`
(projected streams and the global condition); a sampler's steps then only run the transformer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import AttentionBackend, Conditions, Denoiser, FrameFeatures, TextFeatures
from foleyzoo.mmdit.attention import attention_backend
from foleyzoo.mmdit.blocks import Stream
from foleyzoo.zoo.mmaudio.layers import (
    MMAudioFinalLayer,
    MMAudioJointBlock,
    MMAudioSingleBlock,
    SwiGLU,
    SyncRateStream,
    TimeConv1d,
    rotary_tables,
    timestep_features,
)
from foleyzoo.zoo.mmaudio.variants import TEXT_TOKENS, MMAudioVariant, sequence_lengths, variant

__all__ = ["MMAudioDenoiser", "PreparedMMAudio"]

SYNC_SEGMENT_FEATURES = 8
"""Synchformer emits 8 features a segment; each position in a segment has its own learned embedding."""


@dataclass(frozen=True)
class PreparedMMAudio(Conditions):
    """Conditions with everything MMAudio computes from them alone, ready for many forward passes.

    The original ``text``/``visual``/``sync``/``duration`` stay; the prepared parts are ``clip`` (B|1, Lc,
    hidden) projected CLIP tokens, ``sync_tokens`` (B|1, S, hidden) projected sync features at the sync
    rate (aligned to the latents in each forward), ``text_tokens`` (B|1, Lt, hidden) with ``text_mask``
    (B, Lt) or None when every token is real, and ``global_condition`` (B|1, hidden): the global
    condition without the flow time. A batch of 1 broadcasts over the latents' batch.
    ``pending`` is True when the prepared parts' lengths depend on the latents' (a modality absent from
    the whole batch, no ``duration`` to size it): the forward pass then builds them once for each length.
    """

    clip: Tensor | None = None
    sync_tokens: Tensor | None = None
    text_tokens: Tensor | None = None
    text_mask: Tensor | None = None
    global_condition: Tensor | None = None
    pending: bool = False
    resolved: dict[int, PreparedMMAudio] = field(default_factory=dict, init=False, compare=False, repr=False)

    def original(self) -> Conditions:
        """The conditions this was prepared from."""
        return Conditions(text=self.text, visual=self.visual, sync=self.sync, duration=self.duration)


def _present(mask: Tensor | None) -> Tensor | None:
    """(B,) True for rows with at least one real frame; None when every row is present."""
    if mask is None:
        return None
    present = mask.any(dim=1)
    return None if bool(present.all()) else present


class MMAudioDenoiser(Denoiser):
    """MMAudio's MM-DiT: latents (B, T, C) at flow time t (B,) given conditions → velocity (B, T, C).

    The defaults are the ``small_16k`` architecture; :meth:`from_variant` builds any released one and
    :func:`foleyzoo.zoo.mmaudio.load_denoiser` loads its weights. ``latent_rate`` (latent frames a second)
    sizes the empty streams of a modality absent from the whole batch when ``Conditions.duration`` does not
    say how long the clip is. ``attention`` picks foleyzoo's attention backend (SDPA by default).
    ``latent_mean``/``latent_std`` (C,) are the latent statistics stored with MMAudio's network: latents
    are normalised as (z − mean) / std before the network sees them.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        clip_dim: int = 1024,
        sync_dim: int = 768,
        text_dim: int = 1024,
        hidden: int = 448,
        heads: int = 7,
        joint_blocks: int = 4,
        single_blocks: int = 8,
        mlp_ratio: float = 4.0,
        v2: bool = False,
        latent_rate: float = 16000 / 256 / 2,
        text_tokens: int = TEXT_TOKENS,
        attention: AttentionBackend | str | None = None,
    ) -> None:
        super().__init__()
        if joint_blocks < 1:
            raise ValueError(f"MMAudio has at least one joint block, got joint_blocks={joint_blocks}")
        self.latent_dim, self.hidden, self.heads = latent_dim, hidden, heads
        self.v2, self.latent_rate = v2, latent_rate
        self.frequency_dim = hidden if v2 else 256
        self.frequency_scale = 1e4 if v2 else 1.0
        self.attention = attention_backend(attention)
        ffn = 4 * hidden
        activation = nn.SiLU if v2 else nn.SELU
        between = [nn.SiLU()] if v2 else []  # v2 adds a SiLU after the linear input projections
        self.latent_in = nn.Sequential(
            TimeConv1d(latent_dim, hidden, 7, padding=3), activation(), SwiGLU(hidden, ffn, kernel=7)
        )
        self.clip_in = nn.Sequential(nn.Linear(clip_dim, hidden), *between, SwiGLU(hidden, ffn, kernel=3))
        self.sync_in = nn.Sequential(
            TimeConv1d(sync_dim, hidden, 7, padding=3), activation(), SwiGLU(hidden, ffn, kernel=3)
        )
        self.text_in = nn.Sequential(nn.Linear(text_dim, hidden), *between, SwiGLU(hidden, ffn, kernel=1))
        self.clip_pool = nn.Linear(hidden, hidden)
        self.text_pool = nn.Linear(hidden, hidden)
        self.global_mlp = SwiGLU(hidden, ffn)
        self.sync_positions = nn.Parameter(torch.zeros(SYNC_SEGMENT_FEATURES, sync_dim))
        self.time_embed = nn.Sequential(
            nn.Linear(self.frequency_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.joint = nn.ModuleList(
            MMAudioJointBlock(hidden, heads, mlp_ratio, pre_only=index == joint_blocks - 1)
            for index in range(joint_blocks)
        )
        self.single = nn.ModuleList(
            MMAudioSingleBlock(hidden, heads, mlp_ratio) for _ in range(single_blocks)
        )
        self.final = MMAudioFinalLayer(hidden, latent_dim)
        self.empty_clip = nn.Parameter(torch.zeros(clip_dim))
        self.empty_sync = nn.Parameter(torch.zeros(sync_dim))
        self.empty_text = nn.Parameter(torch.zeros(text_tokens, text_dim), requires_grad=False)
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))
        self._tables: dict[tuple, Any] = {}

    @classmethod
    def from_variant(cls, name: str | MMAudioVariant, **overrides: Any) -> MMAudioDenoiser:
        """The network of a released variant (``"small_16k"``, …, ``"large_44k_v2"``) with fresh weights."""
        spec = variant(name) if isinstance(name, str) else name
        return cls(**{**spec.architecture(), **overrides})

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the tables of constants (rebuilt on the device they are next needed on)."""
        state = self.__dict__.copy()
        state["_tables"] = {}
        return state

    # ------------------------------------------------------------------ conditions

    def prepare(
        self, conditions: Conditions, x: Tensor | None = None, mask: Tensor | None = None
    ) -> PreparedMMAudio:
        """Project the conditions and build the global condition (without time), once a sampling.

        The latents ``x`` (B, T, C) are needed only for their length T, to size a modality absent from
        the whole batch when ``conditions.duration`` is None; without them those parts wait for the
        first forward pass. ``mask`` plays no part here (MMAudio has no latent mask).
        """
        return self._prepare(conditions, None if x is None else x.shape[1])

    def _prepare(self, conditions: Conditions, frames: int | None) -> PreparedMMAudio:
        """:meth:`prepare` for latents of ``frames`` frames (None: not known yet)."""
        if isinstance(conditions, PreparedMMAudio):
            return conditions
        duration = self._duration(conditions, frames)
        lengths = None if duration is None else sequence_lengths(duration, self.latent_rate)
        clip_raw = self._frames(conditions.visual, self.empty_clip, None if lengths is None else lengths.clip)
        sync_raw = self._frames(conditions.sync, self.empty_sync, None if lengths is None else lengths.sync)
        if clip_raw is None or sync_raw is None:
            return PreparedMMAudio(
                conditions.text, conditions.visual, conditions.sync, conditions.duration, pending=True
            )
        text_raw, text_mask = self._text(conditions.text)
        clip = self.clip_in(clip_raw)
        text = self.text_in(text_raw)
        text_mean = text.mean(dim=1) if text_mask is None else _masked_mean(text, text_mask)
        global_condition = self.global_mlp(self.clip_pool(clip.mean(dim=1)) + self.text_pool(text_mean))
        return PreparedMMAudio(
            conditions.text,
            conditions.visual,
            conditions.sync,
            conditions.duration,
            clip=clip,
            sync_tokens=self.sync_in(self._sync_positions(sync_raw)),
            text_tokens=text,
            text_mask=text_mask,
            global_condition=global_condition,
        )

    def _duration(self, conditions: Conditions, frames: int | None) -> float | None:
        """Seconds that size an absent modality: the clip length in ``duration``, else the latents' length."""
        if conditions.duration is not None:
            return float(conditions.duration[:, 1].max())
        return None if frames is None else frames / self.latent_rate

    def _frames(self, features: FrameFeatures | None, empty: Tensor, length: int | None) -> Tensor | None:
        """Raw frame features (B|1, L, D) with absent rows replaced by ``empty``; None when the length is unknown."""
        dtype = empty.dtype
        if features is None:
            return None if length is None else empty.expand(1, length, -1)
        values = features.values
        if values.shape[-1] != empty.shape[0]:
            raise ValueError(
                f"MMAudioDenoiser expects features of dimension {empty.shape[0]}, got {values.shape[-1]}"
            )
        present = _present(features.mask)
        if present is None:
            return values.to(dtype)
        return torch.where(present[:, None, None], values.to(dtype), empty)

    def _sync_positions(self, sync: Tensor) -> Tensor:
        """Raw sync features (B, S, D) plus the learned embedding of each feature's place in its 8-feature segment.

        MMAudio's features come in whole segments; a clip whose last segment is cut short (a window of
        foleyzoo's that is not a whole number of segments long) keeps the places of the features it has.
        """
        place = torch.arange(sync.shape[1], device=sync.device) % SYNC_SEGMENT_FEATURES
        return sync + self.sync_positions[place]

    def _text(self, text: TextFeatures | None) -> tuple[Tensor, Tensor | None]:
        """Raw text tokens (B|1, L, D) with absent rows given the empty prompt's tokens, and their key mask.

        A row whose mask is all False is absent. Present rows keep their own mask (None: every token real);
        when their length differs from the empty prompt's, the shorter rows are padded and the padding masked.
        """
        empty = self.empty_text
        if text is None:
            return empty[None], None
        tokens, mask = text.tokens.to(empty.dtype), text.mask
        if tokens.shape[-1] != empty.shape[1]:
            raise ValueError(
                f"MMAudioDenoiser expects text features of dimension {empty.shape[1]}, got {tokens.shape[-1]}"
            )
        present = mask.any(dim=1)
        if bool(present.all()):
            return tokens, None if bool(mask.all()) else mask
        length = max(tokens.shape[1], empty.shape[0])
        tokens = F.pad(tokens, (0, 0, 0, length - tokens.shape[1]))
        mask = F.pad(mask, (0, length - mask.shape[1]))
        empty_tokens = F.pad(empty, (0, 0, 0, length - empty.shape[0]))
        empty_mask = torch.arange(length, device=mask.device) < empty.shape[0]
        tokens = torch.where(present[:, None, None], tokens, empty_tokens)
        mask = torch.where(present[:, None], mask, empty_mask)
        return tokens, None if bool(mask.all()) else mask

    # ------------------------------------------------------------------ forward

    def forward(self, x: Tensor, t: Tensor, conditions: Conditions, mask: Tensor | None = None) -> Tensor:
        """Velocity (B, T, C) of latents x (B, T, C) at flow time t (B,); ``mask`` (B, T) marks real latent frames.

        ``conditions`` may be raw or what :meth:`prepare` returned.
        """
        batch, frames, channels = x.shape
        if channels != self.latent_dim:
            raise ValueError(
                f"MMAudioDenoiser was built for {self.latent_dim} latent channels, got {channels}"
            )
        prepared = self._resolve(self._prepare(conditions, frames), frames)
        clip, sync, text = prepared.clip, prepared.sync_tokens, prepared.text_tokens
        if clip is None or sync is None or text is None or prepared.global_condition is None:
            raise RuntimeError("prepared MMAudio conditions are incomplete")  # _resolve fills pending parts
        features = timestep_features(t, self.frequency_dim, self.frequency_scale)
        time = self.time_embed(features.to(self.time_embed[0].weight.dtype))
        global_condition = (time + prepared.global_condition)[:, None]  # (B, 1, hidden)
        sync_condition = global_condition + sync  # (B, S, hidden): the latent stream's, at the sync rate
        global_activated = F.silu(global_condition)
        latent_rotary, clip_rotary = self._rotary(frames, clip.shape[1], x.device)
        audio = SyncRateStream(
            self._latent_tokens(x),
            None if mask is None or bool(mask.all()) else mask,
            sync_condition,
            latent_rotary,
            F.silu(sync_condition),
            rows=self._sync_index(sync.shape[1], frames, x.device),
        )
        streams = [
            Stream(clip.expand(batch, -1, -1), None, global_condition, clip_rotary, global_activated),
            Stream(
                text.expand(batch, -1, -1),
                None if prepared.text_mask is None else prepared.text_mask.expand(batch, -1),
                global_condition,
                None,
                global_activated,
            ),
        ]
        for block in self.joint:
            updated = block([audio, *streams], self.attention)
            audio.x = updated[0]
            for stream, tokens in zip(streams, updated[1:], strict=False):
                stream.x = tokens
        for block in self.single:
            audio.x = block(audio, self.attention)
        return self.final(audio.x, global_condition, global_activated)

    def _latent_tokens(self, x: Tensor) -> Tensor:
        """``latent_in(x)`` (B, N, hidden), computed once for latents repeated block-wise along the batch.

        Guidance evaluates its branches in one batch of the same latents repeated (2 or 3 times); their
        input projection, the one part of the network that reads the latents alone, is run once.
        """
        batch = x.shape[0]
        for count in (2, 3):
            if batch % count == 0:
                first, *others = x.chunk(count)
                if all(torch.equal(first, other) for other in others):
                    return self.latent_in(first).repeat(count, 1, 1)
        return self.latent_in(x)

    def _resolve(self, prepared: PreparedMMAudio, frames: int) -> PreparedMMAudio:
        """Prepared conditions complete for latents of ``frames`` frames (pending parts built once a length)."""
        if not prepared.pending:
            return prepared
        if frames not in prepared.resolved or torch.is_grad_enabled():
            prepared.resolved[frames] = self._prepare(prepared.original(), frames)
        return prepared.resolved[frames]

    def _sync_index(self, sync_length: int, frames: int, device: torch.device) -> Tensor:
        """(frames,) sync feature shown at each latent frame: torch's ``nearest-exact`` upsampling, as MMAudio."""
        key = ("sync", sync_length, frames, device)
        if key not in self._tables:
            source = torch.arange(sync_length, dtype=torch.float32).view(1, 1, -1)
            index = F.interpolate(source, size=frames, mode="nearest-exact").view(-1).long()
            self._tables[key] = index.to(device)
        return self._tables[key]

    def _rotary(
        self, frames: int, clip_length: int, device: torch.device
    ) -> tuple[tuple[Tensor, Tensor], ...]:
        """Rotary tables of the latent tokens and of the CLIP tokens (positions scaled by frames / clip length)."""
        key = ("rotary", frames, clip_length, device)
        if key not in self._tables:
            head_dim = self.hidden // self.heads
            self._tables[key] = (
                rotary_tables(frames, head_dim, 1.0, device),
                rotary_tables(clip_length, head_dim, frames / clip_length, device),
            )
        return self._tables[key]


def _masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """(B, L, D) tokens → (B, D) mean over the tokens ``mask`` (B, L) marks."""
    weights = mask.to(tokens.dtype)[..., None]
    return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)
