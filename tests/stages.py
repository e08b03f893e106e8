"""The tiny recipes of every training stage, each trained at most once a test session in one shared folder.

Later stages name earlier stages' checkpoints by relative path (``runs/<stage>/checkpoints/last.ckpt``),
so every recipe runs from the same working folder, as a user runs them one after another.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO_ROOT

from foleyzoo.cli.main import run

STAGES = {
    "codec": ("codec/melvae-tiny-16k.yaml", "runs/melvae-tiny-16k"),
    "sync": ("pretraining/sync-tiny.yaml", "runs/sync-tiny"),
    "contrastive": ("pretraining/av-contrastive-tiny.yaml", "runs/av-contrastive-tiny"),
    "v2a": ("kling-tiny.yaml", "runs/kling-tiny"),
}
"""Stage name → (recipe under recipes/, the run folder it writes)."""

REQUIRES = {"v2a": ("codec", "sync", "contrastive")}


@contextlib.contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


class TinyStages:
    """Trains a stage's recipe on first request (and the stages it needs) and returns its last checkpoint."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def checkpoint(self, stage: str, run_dir: str | None = None, **model_args: object) -> Path:
        """``last.ckpt`` of ``stage``'s recipe as committed, or with ``model_args`` changed and run in ``run_dir``."""
        for needed in REQUIRES.get(stage, ()):
            self.checkpoint(needed)
        recipe_name, default_dir = STAGES[stage]
        folder = run_dir or default_dir
        last = self.root / folder / "checkpoints" / "last.ckpt"
        if last.is_file():
            return last
        recipe = REPO_ROOT / "recipes" / recipe_name
        if run_dir is not None:
            recipe = self._variant(recipe, run_dir, model_args)
        with working_folder(self.root):
            code = run(["fit", "--config", str(recipe), "--trainer.enable_progress_bar=false"])
        assert code in (0, None), f"{recipe} exited with {code}"
        assert last.is_file(), f"{recipe} wrote no {last}"
        return last

    def _variant(self, recipe: Path, run_dir: str, model_args: dict[str, object]) -> Path:
        """A copy of ``recipe`` writing to ``run_dir`` with ``model_args`` set in the model's init_args."""
        config = yaml.safe_load(recipe.read_text())
        trainer = config["trainer"]
        trainer["default_root_dir"] = run_dir
        trainer["logger"]["init_args"]["save_dir"] = run_dir
        for callback in trainer["callbacks"]:
            if callback["class_path"] == "ModelCheckpoint":
                callback["init_args"]["dirpath"] = f"{run_dir}/checkpoints"
        config["model"]["init_args"].update(model_args)
        variant = self.root / f"{run_dir.replace('/', '_')}.yaml"
        variant.write_text(yaml.safe_dump(config, sort_keys=False))
        return variant


@pytest.fixture(scope="session")
def tiny_stages(tmp_path_factory: pytest.TempPathFactory) -> TinyStages:
    return TinyStages(tmp_path_factory.mktemp("stages"))
