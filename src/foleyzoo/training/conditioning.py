"""Turn a batch into the denoiser's inputs: latents and Conditions, from raw media or a feature cache.

Raw batches (:func:`foleyzoo.data.clips.collate_clips`) hold :class:`~foleyzoo.api.Video` and
:class:`~foleyzoo.api.Waveform` records that the frozen encoders and codec turn into features; cached
batches (:func:`foleyzoo.data.cache.collate_features`) hold the features already. Dropping a condition for
classifier-free guidance marks its rows absent (an all-False mask), which the MM-DiT replaces by its
learnable placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from foleyzoo.api import (
    AudioCodec,
    Conditions,
    FrameFeatures,
    Latents,
    SyncEncoder,
    TextEncoder,
    TextFeatures,
    Video,
    VisualEncoder,
    Waveform,
)
from foleyzoo.errors import ConfigError
from foleyzoo.samplers.guidance import CONDITION_NAMES, RECORD_TYPES, stack_records, without_rows

"""The conditions that can be switched off (ablations) or dropped (classifier-free guidance)."""


def latent_mask(audio_mask: Tensor | None, frames: int) -> Tensor | None:
    """(B, N) valid-sample mask → (B, frames) valid-latent mask: a latent is valid where any of its samples is."""
    if audio_mask is None or bool(audio_mask.all()):
        return None
    valid = audio_mask.sum(dim=1).float() / audio_mask.shape[1]
    lengths = (valid * frames).ceil().long().clamp(1, frames)
    return torch.arange(frames, device=audio_mask.device)[None, :] < lengths[:, None]


@torch.no_grad()
def encode_latents(batch: dict[str, Any], codec: AudioCodec) -> Latents:
    """The batch's audio latents (B, T, C) with a mask for padding: cached, or encoded by the codec."""
    if isinstance(batch.get("latents"), Latents):
        return batch["latents"]
    audio = batch.get("audio")
    if not isinstance(audio, Waveform):
        raise ConfigError(
            "the batch holds neither audio nor cached latents; the flow model needs one of them"
        )
    if audio.sample_rate != codec.sample_rate:
        raise ConfigError(
            f"the data gives {audio.sample_rate} Hz audio but the codec expects {codec.sample_rate} Hz; "
            "set the data module's sample_rate to the codec's"
        )
    mono = audio.samples.mean(dim=1, keepdim=True)
    latents = codec.encode(Waveform(mono, audio.sample_rate))
    return replace(latents, mask=latent_mask(batch.get("audio_mask"), latents.values.shape[1]))


def _frame_features(
    value: Any, encoder: VisualEncoder | SyncEncoder | None, what: str
) -> FrameFeatures | None:
    if value is None or isinstance(value, FrameFeatures):
        return value
    if encoder is None:
        raise ConfigError(f"the batch holds {what} frames but the model has no {what} encoder")
    if isinstance(value, Video) and abs(value.fps - encoder.fps) > 1e-6:
        raise ConfigError(
            f"the data gives {what} frames at {value.fps} fps but the {what} encoder "
            f"{type(encoder).__name__} expects {encoder.fps} fps; set the data module's {what}_fps"
        )
    return encoder.encode(value)


@torch.no_grad()
def encode_conditions(
    batch: dict[str, Any],
    text_encoder: TextEncoder | None,
    visual_encoder: VisualEncoder | None,
    sync_encoder: SyncEncoder | None,
    enabled: Iterable[str] = CONDITION_NAMES,
) -> Conditions:
    """Conditions for the batch: each enabled modality from the cache or its frozen encoder, else None."""
    enabled = set(enabled)
    text = None
    if "text" in enabled:
        if isinstance(batch.get("text"), TextFeatures):
            text = batch["text"]
        elif text_encoder is not None and "captions" in batch:
            text = text_encoder.encode(list(batch["captions"]))
        if text is not None and "has_caption" in batch:  # a clip without a caption gets the null text
            text = without_rows(text, ~batch["has_caption"].to(text.mask.device))
    visual = _frame_features(batch.get("visual"), visual_encoder, "visual") if "visual" in enabled else None
    sync = _frame_features(batch.get("sync"), sync_encoder, "sync") if "sync" in enabled else None
    return Conditions(text=text, visual=visual, sync=sync, duration=batch.get("duration"))


def drop_conditions(
    conditions: Conditions, probability: float, generator: torch.Generator | None = None
) -> Conditions:
    """Drop text, visual and sync each independently per row with ``probability`` (classifier-free guidance)."""
    if probability <= 0:
        return conditions
    changes = {}
    for name in CONDITION_NAMES:
        features = getattr(conditions, name)
        if features is None:
            continue
        rows = (features.tokens if isinstance(features, TextFeatures) else features.values).shape[0]
        device = features.mask.device if features.mask is not None else None
        drop = torch.rand(rows, generator=generator).to(device) < probability
        changes[name] = without_rows(features, drop)
    return replace(conditions, **changes)


class FeatureMemo:
    """Frozen-encoder outputs kept per clip id, so that epochs after the first skip the encoders.

    Valid only where an id always yields the same input (no random crops or augmentation), as with
    in-memory SynthFoley clips. A batch is served from memory when all its ids are there and their
    shapes agree; otherwise it is computed and remembered.
    """

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[Latents, Conditions]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def recall(self, split: str, ids: list[str]) -> tuple[Latents, Conditions] | None:
        """The batch of ``ids`` assembled from memory, or None when one is missing or shapes differ."""
        keys = [(split, clip_id) for clip_id in ids]
        if not keys or not all(key in self.rows for key in keys):
            return None
        rows = [self.rows[key] for key in keys]
        try:
            return stack_records([row[0] for row in rows]), stack_records([row[1] for row in rows])
        except (RuntimeError, TypeError):  # rows of different lengths or layouts: encode the batch anew
            return None

    def remember(self, split: str, ids: list[str], latents: Latents, conditions: Conditions) -> None:
        for index, clip_id in enumerate(ids):
            self.rows[(split, clip_id)] = (_row(latents, index), _row(conditions, index))


def _row(record: Any, index: int) -> Any:
    """Row ``index`` of a batched record (tensor fields sliced to keep a batch dimension of 1)."""
    if isinstance(record, Tensor):
        return record[index : index + 1].clone()
    if not isinstance(record, RECORD_TYPES):
        return record  # None, rates and other plain values are shared by every row
    return replace(
        record, **{name: _row(getattr(record, name), index) for name in record.__dataclass_fields__}
    )
