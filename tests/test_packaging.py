"""The built wheel ships the recipes and registers the built-ins through entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_wheel_ships_recipes_and_entry_points(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("foleyzoo-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "foleyzoo/recipes/toy/flow-2d.yaml" in names
    assert (
        "[foleyzoo.samplers]" in entry_points
        and "EulerSampler = foleyzoo.samplers.ode:EulerSampler" in entry_points
    )

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    code = "from foleyzoo.plugins.recipes import builtin_recipe_dir as d; print(d())"
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.strip() == str(target / "foleyzoo" / "recipes")
