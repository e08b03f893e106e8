"""``foleyzoo summarize --config RECIPE``: parameters per model component, built on the meta device.

Each component the recipe's model names (denoiser, codec, encoders, …) is built inside
``torch.device("meta")``: shapes without memory, so a paper-scale recipe is summarised on a laptop. A
component that needs files this machine lacks (pretrained weights, a checkpoint of an earlier stage) is
listed with the reason instead of its count.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from rich.table import Table
from torch import nn

from foleyzoo.cli.output import CommandParser, console
from foleyzoo.errors import ConfigError, FoleyzooError
from foleyzoo.io.checkpoints import exception_summary
from foleyzoo.plugins import get_registry
from foleyzoo.plugins.allowlist import instantiate_from_config
from foleyzoo.plugins.recipes import resolve_config_path
from foleyzoo.plugins.registry import load_plugins
from foleyzoo.training.cli import check_known_classes


@dataclass(frozen=True)
class ComponentSummary:
    """One component's class and parameter counts, or why it could not be built."""

    name: str
    class_path: str
    parameters: int | None
    note: str | None = None


def read_model_config(path: Path) -> dict[str, Any]:
    """The recipe's ``model`` section; a clear error for a missing, unreadable or model-less file."""
    if not path.is_file():
        raise ConfigError(f"{path}: recipe not found")
    try:
        recipe = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    model = recipe.get("model") if isinstance(recipe, dict) else None
    if not isinstance(model, dict) or "class_path" not in model:
        raise ConfigError(f"{path}: has no model with a class_path to summarise")
    return model


def count(module: nn.Module) -> int:
    """Parameters of ``module`` (which of them train is the model's business: frozen encoders do not)."""
    return sum(p.numel() for p in module.parameters())


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and the ones it was raised from, outermost first (jsonargparse wraps the real one)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _reason(exc: BaseException) -> str:
    """The first foleyzoo error in the exception's chain, else the exception's summary."""
    found = next((seen for seen in _chain(exc) if isinstance(seen, FoleyzooError)), None)
    return str(found).splitlines()[0] if found is not None else exception_summary(exc)


def _builds_a_module(class_path: str) -> bool:
    """Whether ``class_path`` (a dotted path or a registered short name) names an ``nn.Module`` class."""
    if "." in class_path:
        module_name, _, attribute = class_path.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attribute, None)
        except ImportError:
            return True  # let the build report it
    else:
        found = next((r.obj for r in get_registry().find(class_path) if r.ok), None)
        if found is None:
            return True
    return isinstance(found, type) and issubclass(found, nn.Module)


def _build(config: dict[str, Any], source: str) -> tuple[nn.Module | None, str | None]:
    """The component on the meta device, or (None, why not); falls back as the note says.

    A missing weights file is retried without it (the architecture is what is counted), and a component
    that computes buffers when built (``.item()`` on meta tensors) is built on the CPU instead.
    """
    attempts: list[tuple[dict[str, Any], str, str | None]] = [(config, "meta", None)]
    init_args = config.get("init_args") or {}
    if init_args.get("checkpoint"):
        without = {**config, "init_args": {**init_args, "checkpoint": None}}
        attempts.append((without, "meta", "architecture only: its weights file is not here"))
    first_problem = None
    for attempt, device, note in attempts:
        for where in (device, "cpu"):
            try:
                with torch.device(where):
                    component = instantiate_from_config(attempt, nn.Module, source=source)
            except Exception as exc:  # a component that needs files (weights) this machine lacks
                first_problem = first_problem or _reason(exc)
                if where == "meta" and "meta tensors" in exception_summary(_chain(exc)[-1], 2000):
                    continue
                break
            if where == "cpu":
                note = ((note + "; ") if note else "") + "built on the CPU (it computes buffers when built)"
            return component, note
    return None, first_problem


def summarize_model(model: dict[str, Any], source: str = "recipe") -> list[ComponentSummary]:
    """Build each component of the model config on the meta device and count its parameters."""
    load_plugins()
    rows = []
    for name, value in (model.get("init_args") or {}).items():
        if not (isinstance(value, dict) and "class_path" in value) or not _builds_a_module(
            value["class_path"]
        ):
            continue  # plain values, samplers, optimizer and scheduler callables hold no parameters
        component, note = _build(value, f"{source}: model.{name}")
        if component is None:
            rows.append(ComponentSummary(name, value["class_path"], None, note))
            continue
        rows.append(ComponentSummary(name, value["class_path"], count(component), note))
    return rows


def _millions(value: int | None) -> str:
    return "—" if value is None else f"{value / 1e6:,.1f} M"


def main(argv: list[str]) -> int:
    parser = CommandParser(
        prog="foleyzoo summarize",
        description="Parameters per component of a recipe's model, built on the meta device (no memory).",
    )
    parser.add_argument(
        "--config", "-c", required=True, help="a recipe YAML file, or a recipe's name (toy/flow-2d)"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    args.config = resolve_config_path(args.config)
    model = read_model_config(args.config)
    check_known_classes(["--config", str(args.config)], load_plugins())
    rows = summarize_model(model, source=str(args.config))
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
        return 0
    table = Table(title=f"{args.config}: {model['class_path']}")
    for column in ("component", "class", "parameters", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.name, row.class_path, _millions(row.parameters), row.note or "")
    built = [row for row in rows if row.parameters is not None]
    table.add_row(
        "total (built)",
        "",
        _millions(sum(row.parameters or 0 for row in built)),
        f"{len(rows) - len(built)} not built" if len(built) < len(rows) else "",
    )
    console().print(table)
    return 0
