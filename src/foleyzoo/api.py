"""The stable plugin interfaces of foleyzoo: small ABCs and the frozen records passed between them.

Every swappable part of the video-to-audio system implements one of the ABCs below and is registered
under the matching entry-point group (``INTERFACE_GROUPS``). Constructors elsewhere in foleyzoo are
typed with these narrow ABCs, so a recipe can name any registered implementation by its class name.

This module imports nothing else of foleyzoo, so a plugin package can depend on it alone.
Tensor shapes use B = batch, T = time steps, C/D = channels/features, L = text tokens.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = [
    "API_VERSION",
    "INTERFACE_GROUPS",
    "AttentionBackend",
    "AudioCodec",
    "Conditions",
    "Denoiser",
    "Embedder",
    "Embedding",
    "FrameFeatures",
    "Latents",
    "Mel",
    "Sampler",
    "StereoRenderer",
    "SyncEncoder",
    "TextEncoder",
    "TextFeatures",
    "VelocityFn",
    "Video",
    "VisualEncoder",
    "Vocoder",
    "Waveform",
    "api_version_compatible",
]

API_VERSION = "1.0"
"""``MAJOR.MINOR`` of these interfaces. A plugin built for ``X.Y`` works with any ``X.Z`` where Z >= Y."""


def api_version_compatible(required: str, provided: str = API_VERSION) -> bool:
    """True when a plugin written for API ``required`` runs on API ``provided`` (same major, minor <=)."""
    req_major, req_minor = (int(part) for part in required.split("."))
    have_major, have_minor = (int(part) for part in provided.split("."))
    return req_major == have_major and req_minor <= have_minor


def _check_mask(values: Tensor, mask: Tensor | None, what: str) -> None:
    if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != tuple(values.shape[:2])):
        raise ValueError(
            f"{what}.mask must be a bool tensor of shape {tuple(values.shape[:2])} (B, T), "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )


# --------------------------------------------------------------------------- records


class _Record:
    """Makes a frozen record movable like a tensor: Lightning's batch transfer calls ``to`` on any object with it."""

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """A copy with tensors moved like ``Tensor.to(*args, **kwargs)``; a dtype applies to float tensors only.

        Masks and other integer tensors keep their dtype and only change device.
        """
        probe = torch.empty(0).to(*args, **kwargs)
        non_blocking = bool(kwargs.get("non_blocking", False))
        moved = {}
        for field in fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, _Record):
                moved[field.name] = value.to(*args, **kwargs)
            elif isinstance(value, Tensor):
                dtype = probe.dtype if value.is_floating_point() else value.dtype
                moved[field.name] = value.to(device=probe.device, dtype=dtype, non_blocking=non_blocking)
        return replace(self, **moved)  # type: ignore[type-var]


@dataclass(frozen=True)
class Waveform(_Record):
    """Audio samples with their rate: ``samples`` is (B, C, N) float in [-1, 1], C = 1 (mono) or 2."""

    samples: Tensor
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.dim() != 3:
            raise ValueError(f"Waveform.samples must be (B, C, N), got shape {tuple(self.samples.shape)}")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[-1] / self.sample_rate


@dataclass(frozen=True)
class Mel(_Record):
    """A log-mel spectrogram: ``values`` is (B, C, n_mels, T) with C channels, T frames at ``frame_rate`` Hz."""

    values: Tensor
    sample_rate: int
    frame_rate: float

    def __post_init__(self) -> None:
        if self.values.dim() != 4:
            raise ValueError(f"Mel.values must be (B, C, n_mels, T), got shape {tuple(self.values.shape)}")

    @property
    def n_mels(self) -> int:
        return self.values.shape[2]


@dataclass(frozen=True)
class Latents(_Record):
    """Codec latents on a time axis: ``values`` is (B, T, C) at ``frame_rate`` Hz; ``mask`` (B, T) marks valid frames."""

    values: Tensor
    frame_rate: float
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        if self.values.dim() != 3:
            raise ValueError(f"Latents.values must be (B, T, C), got shape {tuple(self.values.shape)}")
        _check_mask(self.values, self.mask, "Latents")


@dataclass(frozen=True)
class Video(_Record):
    """Decoded frames: ``frames`` is (B, T, 3, H, W) float in [0, 1] sampled at ``fps``; ``mask`` (B, T) marks real frames."""

    frames: Tensor
    fps: float
    mask: Tensor | None = None

    def __post_init__(self) -> None:
        if self.frames.dim() != 5 or self.frames.shape[2] != 3:
            raise ValueError(f"Video.frames must be (B, T, 3, H, W), got shape {tuple(self.frames.shape)}")
        _check_mask(self.frames, self.mask, "Video")


@dataclass(frozen=True)
class FrameFeatures(_Record):
    """Per-frame features on a time axis.

    ``values`` is (B, T, D) at ``fps`` features a second; ``mask`` (B, T) marks valid frames;
    ``tokens`` optionally keeps spatial layout as (B, T, N, D) patch tokens (the stereo renderer needs *where*).
    """

    values: Tensor
    fps: float
    mask: Tensor | None = None
    tokens: Tensor | None = None

    def __post_init__(self) -> None:
        if self.values.dim() != 3:
            raise ValueError(f"FrameFeatures.values must be (B, T, D), got shape {tuple(self.values.shape)}")
        _check_mask(self.values, self.mask, "FrameFeatures")


@dataclass(frozen=True)
class TextFeatures(_Record):
    """Encoded text: ``tokens`` (B, L, D), ``mask`` (B, L) bool for real tokens, ``pooled`` (B, D) one vector a prompt."""

    tokens: Tensor
    mask: Tensor
    pooled: Tensor

    def __post_init__(self) -> None:
        if self.tokens.dim() != 3 or self.pooled.dim() != 2:
            raise ValueError(
                "TextFeatures needs tokens (B, L, D) and pooled (B, D), got "
                f"{tuple(self.tokens.shape)} and {tuple(self.pooled.shape)}"
            )
        _check_mask(self.tokens, self.mask, "TextFeatures")


@dataclass(frozen=True)
class Conditions(_Record):
    """Everything the denoiser is conditioned on; ``None`` means the modality is absent (a placeholder is used).

    A batch row whose mask for a modality is all False is absent for that row alone: that is how
    classifier-free-guidance dropout marks it. ``duration`` is (B, 2): the clip's start offset and total
    length in seconds.
    """

    text: TextFeatures | None = None
    visual: FrameFeatures | None = None
    sync: FrameFeatures | None = None
    duration: Tensor | None = None


@dataclass(frozen=True)
class Embedding(_Record):
    """An embedder's output: ``values`` (B, D), and class ``logits`` (B, K) where the embedder is a classifier."""

    values: Tensor
    logits: Tensor | None = None


VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""``velocity(x_t, t)``: x_t (B, ...) and t (B,) in [0, 1] → dx/dt with x_t's shape."""


# --------------------------------------------------------------------------- interfaces


class _Interface:
    """Shared by every interface: the API version a plugin class was written for."""

    api_version: ClassVar[str] = API_VERSION
    """Set this to the ``API_VERSION`` your plugin was written against; foleyzoo refuses incompatible ones."""


class AudioCodec(nn.Module, _Interface, abc.ABC):
    """Waveform ⇄ compact latent sequence (Kling-Foley's mel-VAE). Mono; stereo is the renderer's job."""

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int:
        """Rate of the waveforms it encodes, in Hz."""

    @property
    @abc.abstractmethod
    def latent_dim(self) -> int:
        """Channels C of the latents."""

    @property
    @abc.abstractmethod
    def latent_rate(self) -> float:
        """Latent frames a second."""

    @abc.abstractmethod
    def encode(self, audio: Waveform) -> Latents:
        """Mono waveform (B, 1, N) → latents (B, T, C), normalised to about unit variance."""

    @abc.abstractmethod
    def decode(self, latents: Latents) -> Mel:
        """Latents (B, T, C) → mono mel (B, 1, n_mels, T'); a :class:`Vocoder` turns it into sound."""

    def latent_frames_for(self, seconds: float) -> int:
        """Latent frames that stand for ``seconds`` of audio: how many generation samples for a clip.

        ceil(seconds × latent rate) by default. A codec whose encoder gives a clip of that length another
        count (centred mel frames, N // hop + 1, give one more) returns that count, so that generation
        samples as many frames as the model was trained on for a clip that long.
        """
        return max(1, math.ceil(seconds * self.latent_rate))


class Vocoder(nn.Module, _Interface, abc.ABC):
    """Mel spectrogram → waveform, channel by channel (so it renders stereo mels too)."""

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int:
        """Rate of the waveforms it produces, in Hz."""

    @property
    @abc.abstractmethod
    def n_mels(self) -> int:
        """Mel bands it expects."""

    @abc.abstractmethod
    def vocode(self, mel: Mel) -> Waveform:
        """Mel (B, C, n_mels, T) → waveform (B, C, N)."""


class VisualEncoder(nn.Module, _Interface, abc.ABC):
    """What is on screen: frames → per-frame semantic embeddings (MetaCLIP at ~8 fps in the paper)."""

    @property
    @abc.abstractmethod
    def fps(self) -> float:
        """Frame rate at which it wants its input frames (and emits features)."""

    @property
    @abc.abstractmethod
    def embed_dim(self) -> int:
        """Feature size D."""

    @abc.abstractmethod
    def encode(self, video: Video) -> FrameFeatures:
        """Frames (B, T, 3, H, W) at :attr:`fps` → features (B, T, D), optionally with patch tokens."""


class SyncEncoder(nn.Module, _Interface, abc.ABC):
    """When things happen: frames → dense temporal features (Synchformer-style, 24 a second in the paper)."""

    @property
    @abc.abstractmethod
    def fps(self) -> float:
        """Frame rate at which it wants its input frames."""

    @property
    @abc.abstractmethod
    def feature_rate(self) -> float:
        """Features it emits a second."""

    @property
    @abc.abstractmethod
    def embed_dim(self) -> int:
        """Feature size D."""

    @abc.abstractmethod
    def encode(self, video: Video) -> FrameFeatures:
        """Frames (B, T, 3, H, W) at :attr:`fps` → features (B, T', D) at :attr:`feature_rate`."""


class TextEncoder(nn.Module, _Interface, abc.ABC):
    """Prompts → token embeddings, a mask and one pooled vector each (T5-base in the paper)."""

    @property
    @abc.abstractmethod
    def embed_dim(self) -> int:
        """Feature size D of tokens and pooled vector."""

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> TextFeatures:
        """B prompts → :class:`TextFeatures` with tokens (B, L, D)."""


class Denoiser(nn.Module, _Interface, abc.ABC):
    """The flow network (an MM-DiT in Kling-Foley): predicts the velocity x1 − x0 of noisy latents."""

    @abc.abstractmethod
    def forward(self, x: Tensor, t: Tensor, conditions: Conditions, mask: Tensor | None = None) -> Tensor:
        """x (B, T, C) at flow time t (B,) in [0, 1], given conditions → velocity (B, T, C)."""

    def prepare(self, conditions: Conditions, x: Tensor, mask: Tensor | None = None) -> Conditions:
        """The work of a forward pass that depends on the conditions alone, done once a sampling.

        A sampler's velocity function calls this before its first step, with the latents ``x`` (B, T, C)
        it starts from (their shape, device and dtype) and their ``mask``, and passes what it returns as
        ``conditions`` to every forward of that sampling. The default returns ``conditions`` unchanged,
        so a denoiser without such work needs nothing more; ``forward`` must accept both.
        """
        return conditions


class Sampler(_Interface, abc.ABC):
    """An ODE solver that integrates a velocity field from noise (t = 0) to data (t = 1).

    Guidance is not the sampler's business: it receives a velocity function that already applies it.
    """

    def __init__(self, steps: int = 25) -> None:
        if steps < 1:
            raise ValueError(f"{type(self).__name__}: steps must be >= 1, got {steps}")
        self.steps = steps

    def timesteps(self, device: torch.device | None = None) -> Tensor:
        """The ``steps + 1`` time points the solver visits, from 0 to 1 (uniform by default)."""
        return torch.linspace(0.0, 1.0, self.steps + 1, device=device)

    @abc.abstractmethod
    def sample(self, velocity: VelocityFn, noise: Tensor) -> Tensor:
        """Integrate dx/dt = velocity(x, t) from x(0) = noise to t = 1; returns x(1) with noise's shape."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps})"


class StereoRenderer(nn.Module, _Interface, abc.ABC):
    """Mono mel + visual tokens that keep spatial layout → stereo mel, placing each source where it is seen."""

    @abc.abstractmethod
    def render(self, mono: Mel, visual: FrameFeatures | None) -> Mel:
        """Mel (B, 1, n_mels, T) → mel (B, 2, n_mels, T) (left, right)."""


class AttentionBackend(_Interface, abc.ABC):
    """Computes scaled dot-product attention; swapping it changes speed and memory, never the result."""

    @classmethod
    def availability(cls, device: torch.device) -> str | None:
        """``None`` when usable on ``device``, else a sentence saying why not and what to use instead."""
        return None

    @abc.abstractmethod
    def attend(self, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """q (B, H, Lq, D), k and v (B, H, Lk, D), mask (B, Lk) True = attend → (B, H, Lq, D)."""


class Embedder(nn.Module, _Interface, abc.ABC):
    """An evaluation network (PANNs, VGGish, CLAP, ...) that maps one modality to embeddings and maybe logits."""

    modality: ClassVar[str] = "audio"
    """One of ``"audio"``, ``"video"``, ``"text"``: what :meth:`embed` accepts."""

    @abc.abstractmethod
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        """A batch of the embedder's modality → :class:`Embedding` with values (B, D)."""


INTERFACE_GROUPS: dict[str, type] = {
    "foleyzoo.codecs": AudioCodec,
    "foleyzoo.vocoders": Vocoder,
    "foleyzoo.visual_encoders": VisualEncoder,
    "foleyzoo.sync_encoders": SyncEncoder,
    "foleyzoo.text_encoders": TextEncoder,
    "foleyzoo.denoisers": Denoiser,
    "foleyzoo.samplers": Sampler,
    "foleyzoo.renderers": StereoRenderer,
    "foleyzoo.attention": AttentionBackend,
    "foleyzoo.embedders": Embedder,
}
"""Entry-point group → the interface every plugin in it must implement.

Three more groups exist whose bases live outside this module: ``foleyzoo.modules`` (LightningModule),
``foleyzoo.datamodules`` (LightningDataModule) and ``foleyzoo.recipes`` (folders of recipe YAML).
"""
