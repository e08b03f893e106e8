"""Frozen components taken from earlier stages' ``foleyzoo fit`` checkpoints, named in YAML by path.

Stage 3 (the flow model) uses the codec of stage 1 and the sync encoder of stage 2. These wrappers let a
recipe say ``codec: {class_path: CodecFromCheckpoint, init_args: {checkpoint: runs/…/last.ckpt}}``: the
checkpoint is read safely (:func:`foleyzoo.checkpoints.load_module`), the component is found in it (the
module itself, or its one child of the wanted interface) and every call is passed on to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from torch import nn

from foleyzoo.api import AudioCodec, FrameFeatures, Latents, Mel, SyncEncoder, Video, VisualEncoder, Waveform
from foleyzoo.checkpoints import load_module
from foleyzoo.errors import ConfigError

__all__ = [
    "CodecFromCheckpoint",
    "SyncEncoderFromCheckpoint",
    "VisualEncoderFromCheckpoint",
    "component_from",
]

Component = TypeVar("Component", bound=nn.Module)


def component_from(
    checkpoint: str | Path, interface: type[Component], attribute: str | None = None
) -> Component:
    """The ``interface`` instance stored in a ``foleyzoo fit`` checkpoint: the module, its ``attribute``, or its one child of that type."""
    module = load_module(checkpoint)
    if attribute is not None:
        found = getattr(module, attribute, None)
        if not isinstance(found, interface):
            raise ConfigError(
                f"{checkpoint}: {type(module).__name__}.{attribute} is not a {interface.__name__} "
                f"(it is {type(found).__name__})"
            )
        return found
    if isinstance(module, interface):
        return module
    children = [child for child in module.children() if isinstance(child, interface)]
    if len(children) != 1:
        raise ConfigError(
            f"{checkpoint}: holds a {type(module).__name__} with {len(children)} {interface.__name__} "
            "parts; name the one to use with `attribute`"
        )
    return children[0]


def _frozen(module: Component) -> Component:
    module.requires_grad_(False)
    return module.eval()


class CodecFromCheckpoint(AudioCodec):
    """The :class:`~foleyzoo.api.AudioCodec` of a codec training checkpoint (e.g. a MelVAE's ``last.ckpt``), frozen."""

    def __init__(self, checkpoint: str, attribute: str | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.module = _frozen(component_from(checkpoint, AudioCodec, attribute))  # type: ignore[type-abstract]

    @property
    def sample_rate(self) -> int:
        return self.module.sample_rate

    @property
    def latent_dim(self) -> int:
        return self.module.latent_dim

    @property
    def latent_rate(self) -> float:
        return self.module.latent_rate

    def encode(self, audio: Waveform) -> Latents:
        return self.module.encode(audio)

    def decode(self, latents: Latents) -> Mel:
        return self.module.decode(latents)


class SyncEncoderFromCheckpoint(SyncEncoder):
    """The :class:`~foleyzoo.api.SyncEncoder` trained by a checkpoint (e.g. SyncPretraining's ``last.ckpt``), frozen."""

    def __init__(self, checkpoint: str, attribute: str | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.module = _frozen(component_from(checkpoint, SyncEncoder, attribute))  # type: ignore[type-abstract]

    @property
    def fps(self) -> float:
        return self.module.fps

    @property
    def feature_rate(self) -> float:
        return self.module.feature_rate

    @property
    def embed_dim(self) -> int:
        return self.module.embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        return self.module.encode(video)


class VisualEncoderFromCheckpoint(VisualEncoder):
    """The :class:`~foleyzoo.api.VisualEncoder` trained by a checkpoint (e.g. AVContrastive's ``last.ckpt``), frozen."""

    def __init__(self, checkpoint: str, attribute: str | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.module = _frozen(component_from(checkpoint, VisualEncoder, attribute))  # type: ignore[type-abstract]

    @property
    def fps(self) -> float:
        return self.module.fps

    @property
    def embed_dim(self) -> int:
        return self.module.embed_dim

    def encode(self, video: Video) -> FrameFeatures:
        return self.module.encode(video)
