"""A small bundle shared by the pipeline and command tests (kling-tiny fitted one step at small width)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.stage_checkpoints import fit_small_flow

from foleyzoo.pipeline import ModelCard, export_bundle


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of kling-tiny fitted one step at small width, with the DualMono renderer."""
    folder = tmp_path_factory.mktemp("small")
    checkpoint = fit_small_flow(folder)
    card = ModelCard(
        name="small", architecture="MM-DiT", trained_on="SynthFoley", licence="MIT", scores={"f1": 0.5}
    )
    renderer = {"class_path": "foleyzoo.stereo.DualMono", "init_args": {}}
    return export_bundle(checkpoint, folder / "bundle", card, renderer=renderer)
