"""Shared fixtures: fake plugin distributions (as pluggy's tests do) and paths of the repository."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = [
    "tests.data.video_fixtures",  # small real videos, shared by the data tests
    "tests.stages",  # the tiny recipes of each training stage, trained once a session
]


class FakeDistribution(metadata.Distribution):
    """An in-memory distribution with a name, a version and foleyzoo entry points."""

    def __init__(self, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> None:
        self._name, self._version, self._entry_points = name, version, entry_points

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            return f"Metadata-Version: 2.1\nName: {self._name}\nVersion: {self._version}\n"
        if filename == "entry_points.txt":
            sections = []
            for group, entries in self._entry_points.items():
                lines = "\n".join(f"{name} = {value}" for name, value in entries.items())
                sections.append(f"[{group}]\n{lines}\n")
            return "\n".join(sections)
        return None

    def locate_file(self, path: str) -> Path:
        return Path(path)


@pytest.fixture
def plugin_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write Python modules into a temporary folder on sys.path: ``plugin_modules(name=source)``."""

    def write(**sources: str) -> Path:
        for name, source in sources.items():
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
            sys.modules.pop(name, None)
        return tmp_path

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write


def write_dist_info(folder: Path, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> None:
    """A real ``*.dist-info`` on disk, so a subprocess with ``PYTHONPATH=folder`` sees the distribution."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        FakeDistribution(name, version, entry_points).read_text("entry_points.txt")
    )


@pytest.fixture(autouse=True)
def private_model_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's model folder is its own, so no test reads or writes the user's ~/.cache/foleyzoo."""
    home = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("FOLEYZOO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of kling-tiny fitted one step at small width, with the DualMono renderer (built once a session)."""
    from tests.stage_checkpoints import fit_small_flow

    from foleyzoo.pipeline import ModelCard, export_bundle

    folder = tmp_path_factory.mktemp("small")
    checkpoint = fit_small_flow(folder)
    card = ModelCard(
        name="small", architecture="MM-DiT", trained_on="SynthFoley", licence="MIT", scores={"f1": 0.5}
    )
    renderer = {"class_path": "foleyzoo.renderers.DualMono", "init_args": {}}
    return export_bundle(checkpoint, folder / "bundle", card, renderer=renderer)
