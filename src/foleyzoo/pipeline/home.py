"""The local model folder: where named bundles live, how a name finds one, and how a bundle is added."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from foleyzoo.errors import ConfigError

__all__ = ["copy_bundle", "model_home", "register_bundle", "resolve_bundle"]


def model_home() -> Path:
    """Where named bundles live: ``$FOLEYZOO_HOME`` or ``~/.cache/foleyzoo/models``."""
    configured = os.environ.get("FOLEYZOO_HOME")
    return Path(configured) if configured else Path.home() / ".cache" / "foleyzoo" / "models"


def resolve_bundle(name_or_path: str | os.PathLike[str]) -> Path:
    """A bundle folder given by path, or by name from the local model folder (a path wins)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    candidate = model_home() / str(name_or_path)
    if candidate.is_dir():
        return candidate
    raise ConfigError(
        f"{name_or_path}: neither a bundle folder nor a model in {model_home()} (see `foleyzoo models`)"
    )


def copy_bundle(
    source: str | os.PathLike[str], target: str | os.PathLike[str], overwrite: bool = False
) -> Path:
    """Copy the bundle folder ``source`` to ``target``, renamed into place whole (never a half copy)."""
    from foleyzoo.pipeline.bundle import Bundle

    origin = Bundle.open(source).path  # a readable bundle, or a clear error before anything is copied
    destination = Path(target)
    if destination.exists() and not overwrite:
        raise ConfigError(f"{destination}: already exists; pass overwrite=True to replace it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        shutil.copytree(origin, staging / "bundle")
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(staging / "bundle", destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def register_bundle(bundle: str | os.PathLike[str], name: str) -> Path:
    """Copy the bundle folder ``bundle`` into the model folder as ``name`` (replacing one of that name),
    where `foleyzoo models` lists it and every command that takes a bundle finds it by name."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"{name!r}: a model name is one plain folder name")
    return copy_bundle(bundle, model_home() / name, overwrite=True)
