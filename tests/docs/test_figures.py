"""``scripts/docs_figures.py`` on a small bundle: the three figures are real, non-blank PNG images.

Slow (about a minute on 2 cores): kling-tiny is fitted three steps at small width, exported and
sampled for two clips of two sampler steps.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO_ROOT
from tests.stage_checkpoints import SMALL_FLOW, fit_small_flow

from foleyzoo.pipeline import ModelCard, export_bundle

SCRIPT = REPO_ROOT / "scripts" / "docs_figures.py"


def png_pixels(path: Path) -> np.ndarray:
    """The RGB(A) pixels of a PNG file, read with matplotlib (which writes them)."""
    import matplotlib.image

    return matplotlib.image.imread(path)


@pytest.mark.slow
def test_figures_of_a_small_bundle_are_real_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "tests.stage_checkpoints.SMALL_FLOW",
        [*SMALL_FLOW, "--trainer.max_steps=3", "--trainer.log_every_n_steps=1"],
    )
    checkpoint = fit_small_flow(tmp_path)
    renderer = {"class_path": "foleyzoo.renderers.DualMono", "init_args": {}}
    bundle = export_bundle(checkpoint, tmp_path / "bundle", ModelCard(name="small"), renderer=renderer)
    out = tmp_path / "images"
    argv = [str(SCRIPT), "--bundle", str(bundle), "--runs", str(tmp_path / "runs"), "--output", str(out)]
    monkeypatch.setattr(sys, "argv", [*argv, "--clips", "2", "--steps", "2", "--duration", "2.0"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert done.value.code == 0
    sizes = {}
    for name in ("spectrograms.png", "onsets.png", "quickstart-losses.png"):
        pixels = png_pixels(out / name)
        sizes[name] = pixels.shape[:2]
        assert pixels.shape[0] >= 200 and pixels.shape[1] >= 400, f"{name} is {pixels.shape}"
        assert float(pixels[..., :3].std()) > 0.05, f"{name} is blank"
    # two clips side by side, and one panel for the one stage with logs: wider than tall
    assert sizes["spectrograms.png"][1] > sizes["spectrograms.png"][0]
    assert os.path.getsize(out / "quickstart-losses.png") > 10_000
