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
from tests.conftest import REPO_ROOT

from foleyzoo.cli.main import run

STAGES = {
    "codec": ("recipes/codec/melvae-tiny-16k.yaml", "runs/melvae-tiny-16k"),
    "sync": ("recipes/pretraining/sync-tiny.yaml", "runs/sync-tiny"),
    "contrastive": ("recipes/pretraining/av-contrastive-tiny.yaml", "runs/av-contrastive-tiny"),
    "judge": ("recipes/pretraining/av-contrastive-judge-tiny.yaml", "runs/av-contrastive-judge-tiny"),
    "sync-judge": ("recipes/pretraining/sync-judge-tiny.yaml", "runs/sync-judge-tiny"),
    "v2a": ("recipes/kling-tiny.yaml", "runs/kling-tiny"),
    "v2a-no-sync": (
        "recipes/kling-tiny.yaml+benchmarks/configs/kling-tiny-no-sync.yaml",
        "runs/kling-tiny-nosync",
    ),
    "stereo": ("recipes/stereo/mono2stereo-tiny.yaml", "runs/mono2stereo-tiny"),
}
"""Stage name → (recipe files from the repository root, ``+`` between layered ones; the run folder)."""

REQUIRES = {"v2a": ("codec", "sync", "contrastive"), "v2a-no-sync": ("codec", "sync", "contrastive")}


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

    def checkpoint(self, stage: str) -> Path:
        """``last.ckpt`` of ``stage``'s recipe as committed, trained first if this session has not yet."""
        for needed in REQUIRES.get(stage, ()):
            self.checkpoint(needed)
        recipe_name, default_dir = STAGES[stage]
        last = self.root / default_dir / "checkpoints" / "last.ckpt"
        if last.is_file():
            return last
        recipes = [REPO_ROOT / name for name in recipe_name.split("+")]
        configs = [argument for recipe in recipes for argument in ("--config", str(recipe))]
        with working_folder(self.root):
            code = run(["fit", *configs, "--trainer.enable_progress_bar=false"])
        assert code in (0, None), f"{recipe_name} exited with {code}"
        assert last.is_file(), f"{recipe_name} wrote no {last}"
        return last


@pytest.fixture(scope="session")
def tiny_stages(tmp_path_factory: pytest.TempPathFactory) -> TinyStages:
    return TinyStages(tmp_path_factory.mktemp("stages"))
