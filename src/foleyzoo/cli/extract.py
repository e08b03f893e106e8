"""``foleyzoo extract``: run the frozen encoders and codec over a dataset once, into a feature cache.

    foleyzoo extract --config extract.yaml
    foleyzoo extract --data VideoDataModule --data.train videos/ --visual_encoder TinyVisualCNN --out cache/

Writes ``OUT/<split>/`` (sharded safetensors + index.json) for each split of the DataModule; train from
it with ``data: {class_path: CacheDataModule, init_args: {root: OUT}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile, ArgumentParser
from lightning.pytorch import LightningDataModule
from rich.progress import Progress

from foleyzoo.api import AudioCodec, SyncEncoder, TextEncoder, VisualEncoder
from foleyzoo.data.cache import FeatureEncoders, extract_features
from foleyzoo.errors import ConfigError
from foleyzoo.plugins.registry import load_plugins


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="foleyzoo extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with the options below")
    parser.add_subclass_arguments(
        LightningDataModule, "data", required=True, help="a DataModule that decodes clips"
    )
    parser.add_argument("--visual_encoder", type=VisualEncoder | None, default=None)
    parser.add_argument("--sync_encoder", type=SyncEncoder | None, default=None)
    parser.add_argument("--text_encoder", type=TextEncoder | None, default=None)
    parser.add_argument("--codec", type=AudioCodec | None, default=None)
    parser.add_argument("--out", type=Path, required=True, help="the cache folder to write")
    parser.add_argument("--splits", type=list[str], default=["train", "val"])
    parser.add_argument("--shard_mb", type=int, default=64, help="target size of one shard in MiB")
    return parser


def check_rates(data: Any, encoders: FeatureEncoders) -> None:
    """The DataModule must sample frames and audio at the rates the encoders and codec expect."""
    fmt = data.fmt
    pairs = [
        ("visual_fps", fmt.visual_fps, encoders.visual, "fps"),
        ("sync_fps", fmt.sync_fps, encoders.sync, "fps"),
        ("sample_rate", fmt.sample_rate, encoders.codec, "sample_rate"),
    ]
    for option, have, part, attr in pairs:
        if part is not None and (have is None or abs(float(have) - float(getattr(part, attr))) > 1e-6):
            raise ConfigError(
                f"data.{option} is {have}, but {type(part).__name__} wants {attr} {getattr(part, attr)}; "
                f"set --data.init_args.{option}={getattr(part, attr)}"
            )


def main(argv: list[str]) -> int:
    from foleyzoo.training.cli import mentions

    load_plugins().resolve_mentioned(mentions(argv))  # the plugins the command line and configs name
    parser = build_parser()
    config = parser.parse_args(argv)
    init = parser.instantiate_classes(config)
    data = init.data
    if not hasattr(data, "extraction_datasets"):
        raise ConfigError(
            f"{type(data).__name__} cannot be extracted: it has no extraction_datasets() (use a clip DataModule)"
        )
    encoders = FeatureEncoders(init.visual_encoder, init.sync_encoder, init.text_encoder, init.codec)
    check_rates(data, encoders)
    datasets = data.extraction_datasets()
    unknown = sorted(set(init.splits) - set(datasets))
    if unknown:
        raise ConfigError(f"{type(data).__name__} has no split {unknown}; it has {sorted(datasets)}")
    with Progress() as progress:
        for split in init.splits:
            dataset = datasets[split]
            task = progress.add_task(f"extract {split}", total=len(dataset))
            index = extract_features(
                dataset,
                encoders,
                data.fmt,
                init.out / split,
                init.shard_mb << 20,
                progress=lambda done, task=task: progress.update(task, completed=done),
            )
            progress.console.print(f"{split}: {len(dataset)} clips → {index}")
    return 0
