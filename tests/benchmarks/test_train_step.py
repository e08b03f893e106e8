"""benchmarks/train_step: the shapes it times at other batch sizes and audio patches."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from benchmarks._common import REPO_ROOT


@pytest.fixture
def train_step(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script as a module, importing its neighbours as it does when run from benchmarks/."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "benchmarks"))
    return importlib.import_module("train_step")


def test_batches_and_patches_make_one_shape_each(train_step: ModuleType) -> None:
    (own,) = train_step.shapes(["tiny"])
    variants = train_step.shapes(["tiny"], [16, 24], [2, 1])
    assert [(s.name, s.batch, s.patch) for s in variants] == [
        ("kling-tiny b16 p2", 16, 2),
        ("kling-tiny b16 p1", 16, 1),
        ("kling-tiny b24 p2", 24, 2),
        ("kling-tiny b24 p1", 24, 1),
    ]
    assert own.patch == 2  # the recipe's
    assert variants[1].audio_tokens == own.frames == 2 * variants[0].audio_tokens - own.frames % 2
