"""LAION-CLAP (``music_speech_audioset_epoch_15_esc_89.98.pt``): av-benchmark's CLAP score audio and text embedders."""

from __future__ import annotations

from foleyzoo.embedders.laion_clap.model import (
    LaionClap,
    LaionCLAPAudio,
    LaionCLAPText,
    htsat_base_config,
    laion_to_transformers,
    load_laion_clap,
    official_shapes,
    random_laion_clap_checkpoint,
    repeat_pad,
    write_byte_level_tokenizer,
)

__all__ = [
    "LaionCLAPAudio",
    "LaionCLAPText",
    "LaionClap",
    "htsat_base_config",
    "laion_to_transformers",
    "load_laion_clap",
    "official_shapes",
    "random_laion_clap_checkpoint",
    "repeat_pad",
    "write_byte_level_tokenizer",
]
