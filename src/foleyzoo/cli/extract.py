"""``foleyzoo extract``: run the frozen encoders and codec over a dataset once, into a feature cache.

    foleyzoo extract --config extract.yaml
    foleyzoo extract --data VideoDataModule --data.train videos/ --visual-encoder TinyVisualCNN --output cache/

Writes ``OUTPUT/<split>/`` (sharded safetensors + index.json) for each split of the DataModule; train from
it with ``data: {class_path: CacheDataModule, init_args: {root: OUTPUT}}``. The options' old spellings
(``--visual_encoder``, ``--sync_encoder``, ``--text_encoder``, ``--shard_mb``, ``--out``) are still
accepted; in a ``--config`` file the keys are ``visual_encoder``, ``shard_mb``, ``output``, ….
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonargparse import ActionConfigFile, ArgumentParser
from lightning.pytorch import LightningDataModule
from rich.progress import Progress

from foleyzoo.api import AudioCodec, SyncEncoder, TextEncoder, VisualEncoder
from foleyzoo.cli.output import rename_options
from foleyzoo.data.cache import FeatureEncoders, extract_features
from foleyzoo.errors import ConfigError
from foleyzoo.plugins.registry import load_plugins
from foleyzoo.training.parse_errors import ShortErrors

OLD_SPELLINGS = {
    "--visual_encoder": "--visual-encoder",
    "--sync_encoder": "--sync-encoder",
    "--text_encoder": "--text-encoder",
    "--shard_mb": "--shard-mb",
    "--out": "--output",
}
"""The options' names before they followed the kebab-case and ``--output`` conventions; still accepted."""


class ExtractParser(ShortErrors, ArgumentParser):
    """jsonargparse's parser with one-line errors (an unknown key named with the closest valid ones)."""


def build_parser() -> ArgumentParser:
    parser = ExtractParser(prog="foleyzoo extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file with the options below")
    parser.add_argument(
        "--recipe",
        help="take data and the frozen parts from a `foleyzoo fit` recipe (a file, or a recipe's name)",
    )
    parser.add_subclass_arguments(
        LightningDataModule, "data", required=True, help="a DataModule that decodes clips"
    )
    parser.add_argument("--visual-encoder", type=VisualEncoder | None, default=None, help="frames → features")
    parser.add_argument(
        "--sync-encoder", type=SyncEncoder | None, default=None, help="frames → sync features"
    )
    parser.add_argument("--text-encoder", type=TextEncoder | None, default=None, help="captions → features")
    parser.add_argument("--codec", type=AudioCodec | None, default=None, help="audio → latents")
    parser.add_argument("--output", type=Path, required=True, help="the cache folder to write")
    parser.add_argument("--splits", type=list[str], default=["train", "val"], help="the splits to extract")
    parser.add_argument("--shard-mb", type=int, default=64, help="target size of one shard in MiB")
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


FROZEN_PARTS = ("visual_encoder", "sync_encoder", "text_encoder", "codec")


def recipe_extract_config(recipe: str | Path) -> dict[str, Any]:
    """A ``foleyzoo fit`` recipe's ``data`` and frozen parts as an extract config: one recipe serves both."""
    import yaml

    from foleyzoo.plugins.recipes import resolve_config_path

    path = resolve_config_path(recipe, "--recipe")
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable YAML recipe ({exc})") from None
    model = (content.get("model") or {}).get("init_args") if isinstance(content, dict) else None
    if not isinstance(model, dict) or "data" not in content:
        raise ConfigError(f"{path}: a recipe with a model (its init_args) and a data section is needed")
    return {"data": content["data"], **{name: model[name] for name in FROZEN_PARTS if model.get(name)}}


def _with_recipe(argv: list[str]) -> tuple[list[str], Path | None]:
    """``--recipe R`` replaced by ``--config`` of a temporary extract config made from R (which it returns)."""
    if "--recipe" not in argv:
        return argv, None
    import tempfile

    import yaml

    at = argv.index("--recipe")
    if at + 1 >= len(argv):
        raise ConfigError("--recipe needs a recipe file or name")
    config = recipe_extract_config(argv[at + 1])
    handle, name = tempfile.mkstemp(prefix="foleyzoo-extract-", suffix=".yaml")
    with open(handle, "w") as stream:
        yaml.safe_dump(config, stream)
    return [*argv[:at], "--config", name, *argv[at + 2 :]], Path(name)


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo extract`` (old option spellings are rewritten first)."""
    argv, temporary = _with_recipe(rename_options(list(argv), OLD_SPELLINGS))
    try:
        return _extract(argv)
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _extract(argv: list[str]) -> int:
    from foleyzoo.training.cli import mentions

    load_plugins().resolve_mentioned(mentions(argv))  # the plugins the command line and configs name
    parser = build_parser()
    parser.command_line = argv
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
                init.output / split,
                init.shard_mb << 20,
                progress=lambda done, task=task: progress.update(task, completed=done),
            )
            progress.console.print(f"{split}: {len(dataset)} clips → {index}")
    return 0
