"""Crafted bundles and checkpoints, as an adversary would ship them: nothing in them may run.

Every case plants a module that writes a marker file when it is imported, beside the crafted file, makes
the current folder that folder and puts it first on ``sys.path`` (as ``python -c``, ``python -m`` and
notebooks do). It then opens the file the way a user would and asserts that the marker never appears,
that the module was never imported, and that the error names the file and the offending key.
"""

from __future__ import annotations

import http.server
import json
import pickle
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningModule

from foleyzoo.api import Sampler
from foleyzoo.cli.main import main
from foleyzoo.errors import ConfigError, ForbiddenClassError
from foleyzoo.pipeline import FoleyPipeline

TOY_HPARAMS = {
    "_class_path": "foleyzoo.training.toy.ToyFlowMatching",
    "text_encoder": {
        "class_path": "foleyzoo.encoders.text.byte.ByteTextEncoder",
        "init_args": {"embed_dim": 8},
    },
    "hidden": 16,
}


class Plant:
    """A module that leaves a marker when imported, in the folder a crafted file ships it in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = f"fz_planted_{uuid.uuid4().hex[:8]}"
        self.marker = folder / f"{self.name}.RAN"
        (folder / f"{self.name}.py").write_text(
            "import pathlib\n"
            f"pathlib.Path({str(self.marker)!r}).touch()\n"
            "from foleyzoo.samplers.ode import EulerSampler\n"
            "class Evil(EulerSampler):\n    pass\n"
            "def make_optimizer(params):\n    return None\n"
        )

    @property
    def class_path(self) -> str:
        return f"{self.name}.Evil"

    def ran(self) -> bool:
        return self.marker.exists() or self.name in sys.modules


@pytest.fixture
def inside(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Plant]:
    """``inside(folder)``: plant a module there, make it the current folder and the first import root."""

    def enter(folder: Path) -> Plant:
        monkeypatch.chdir(folder)
        monkeypatch.syspath_prepend("")  # what `python -c` and notebooks do
        return Plant(folder)

    return enter


def test_the_planted_module_runs_when_nothing_guards_it(tmp_path: Path, inside) -> None:
    """The canary: jsonargparse alone imports a bare dotted string given for a class-typed argument."""
    from jsonargparse import ArgumentParser

    plant = inside(tmp_path)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(Sampler, "obj", required=True)
    parser.parse_object({"obj": plant.class_path})
    assert plant.ran()


# --------------------------------------------------------------------------- bundles


def _crafted_bundle(bundle: Path, tmp_path: Path, inside, mutate: Callable[[dict, Plant], None]) -> Plant:
    folder = tmp_path / "downloaded"
    shutil.copytree(bundle, folder)
    plant = inside(folder)
    config = json.loads((folder / "config.json").read_text())
    mutate(config, plant)
    (folder / "config.json").write_text(json.dumps(config))
    return plant


def _attention(config: dict, value: object) -> None:
    config["parts"]["denoiser"]["config"]["init_args"]["attention"] = value


BUNDLE_CASES: dict[str, tuple[Callable[[dict, Plant], None], str]] = {
    "bare dotted string for a class-typed argument": (
        lambda config, plant: _attention(config, plant.class_path),
        r"at parts\.denoiser\.config\.init_args\.attention\)",
    ),
    "class path in JSON text": (
        lambda config, plant: _attention(config, json.dumps({"class_path": plant.class_path})),
        r"at parts\.denoiser\.config\.init_args\.attention \(as YAML text\)\.class_path",
    ),
    "path of a config file shipped beside the bundle": (
        lambda config, plant: (
            (plant.folder / "attention-config.yaml").write_text(f"class_path: {plant.class_path}\n"),
            _attention(config, "attention-config.yaml"),
        ),
        r"init_args\.attention \(file .*attention-config\.yaml\)\.class_path",
    ),
    "standard-library module as a sampler": (
        lambda config, plant: config["generation"].update(sampler={"class_path": "this.EulerSampler"}),
        r"'this\.EulerSampler' \(at generation\.sampler\.class_path\)",
    ),
    "class path inside a stored architecture": (
        lambda config, plant: config["parts"]["codec"]["config"]["init_args"].update(
            architecture=json.dumps({"class_path": plant.class_path, "init_args": {}})
        ),
        r"at parts\.codec\.config\.init_args\.architecture \(as YAML text\)\.class_path",
    ),
}


@pytest.mark.parametrize("case", list(BUNDLE_CASES))
def test_a_crafted_bundle_runs_nothing_and_names_the_key(
    bundle: Path, tmp_path: Path, inside, case: str
) -> None:
    mutate, where = BUNDLE_CASES[case]
    plant = _crafted_bundle(bundle, tmp_path, inside, mutate)
    this_before = "this" in sys.modules
    with pytest.raises(ForbiddenClassError, match=r"downloaded/config\.json.*" + where):
        FoleyPipeline.from_bundle(".")
    assert not plant.ran()
    assert ("this" in sys.modules) == this_before


def test_generate_with_a_crafted_bundle_is_one_line_and_runs_nothing(
    bundle: Path, tmp_path: Path, inside, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = _crafted_bundle(
        bundle, tmp_path, inside, BUNDLE_CASES["bare dotted string for a class-typed argument"][0]
    )
    video = tmp_path / "none.mp4"
    code = main(["generate", "--model", ".", "--input", str(video), "--output", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2 and "refusing to import" in error and "init_args.attention" in error
    assert len(error.strip().splitlines()) == 1 and not plant.ran()


def test_the_bundle_folder_is_no_import_root_while_it_is_built(bundle: Path, tmp_path: Path, inside) -> None:
    """Even a module the allowlist never sees cannot be imported from the bundle's folder during a build."""
    from foleyzoo.plugins.allowlist import untrusted_import_roots

    plant = inside(tmp_path)
    with untrusted_import_roots(tmp_path), pytest.raises(ModuleNotFoundError):
        __import__(plant.name)
    assert not plant.ran() and "" in sys.path  # restored afterwards


# --------------------------------------------------------------------------- checkpoints


def _checkpoint(path: Path, **hparams: object) -> Path:
    torch.save(
        {"state_dict": {}, "hyper_parameters": {**TOY_HPARAMS, **hparams}, "optimizer_states": [{}]}, path
    )
    return path


class _Payload:
    """A pickle that writes the marker when unpickled (what `weights_only=False` would run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle_bomb(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": _Payload(marker)}, path)
    return path


CHECKPOINT_CASES: dict[str, Callable[[Plant], dict[str, object]]] = {
    "bare dotted string for the sampler": lambda plant: {"sampler": plant.class_path},
    "optimizer callable": lambda plant: {"optimizer": f"{plant.name}.make_optimizer"},
    "class path in YAML text": lambda plant: {"sampler": f"class_path: {plant.class_path}"},
    "os.system as the optimizer": lambda plant: {"optimizer": {"class_path": "os.system"}},
}


def _one_wav(folder: Path) -> Path:
    """A folder holding one short WAV (what `foleyzoo eval` needs before it loads any network)."""
    from foleyzoo.io.media import write_wav

    folder.mkdir(exist_ok=True)
    write_wav(folder / "clip.wav", torch.zeros(1, 1600), 16000)
    return folder


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "export --checkpoint": lambda ckpt, out: [
        "export",
        "--checkpoint",
        str(ckpt),
        "--output",
        str(out / "b"),
    ],
    "codec reconstruct --checkpoint": lambda ckpt, out: [
        "codec",
        "reconstruct",
        "--checkpoint",
        str(ckpt),
        str(out / "x.wav"),
        "--output",
        str(out),
    ],
    "eval --embedders contrastive=": lambda ckpt, out: [
        "eval",
        "--generated",
        str(_one_wav(out / "generated")),
        "--reference",
        str(_one_wav(out / "reference")),
        "--embedders",
        f"contrastive={ckpt}",
        "--metrics",
        "fd",
    ],
    "fit --ckpt_path": lambda ckpt, out: [
        "fit",
        "--config",
        str(Path(__file__).resolve().parents[2] / "recipes" / "toy" / "flow-2d.yaml"),
        f"--trainer.default_root_dir={out}",
        f"--ckpt_path={ckpt}",
    ],
}


@pytest.mark.parametrize("case", list(CHECKPOINT_CASES))
def test_a_crafted_checkpoint_is_refused_before_anything_is_imported(
    tmp_path: Path, inside, case: str
) -> None:
    from foleyzoo.io.checkpoints import load_module

    plant = inside(tmp_path)
    ckpt = _checkpoint(tmp_path / "crafted.ckpt", **CHECKPOINT_CASES[case](plant))
    with pytest.raises(ForbiddenClassError, match=r"crafted\.ckpt: refusing to (import|build)"):
        load_module(ckpt)
    assert not plant.ran()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_that_reads_a_checkpoint_refuses_a_crafted_one(
    tmp_path: Path, inside, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plant = inside(tmp_path)
    ckpt = _checkpoint(tmp_path / "crafted.ckpt", sampler=plant.class_path)
    code = main(COMMANDS[command](ckpt, tmp_path))
    error = capsys.readouterr().err
    assert code == 2, error
    assert (
        "crafted.ckpt" in error
        and f"refusing to import '{plant.class_path}' (at hyper_parameters.sampler)" in error
    )
    assert len(error.strip().splitlines()) == 1 and not plant.ran()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_pickle_payload_in_a_checkpoint_never_runs(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "UNPICKLED"
    ckpt = _pickle_bomb(tmp_path / "bomb.ckpt", marker)
    code = main(COMMANDS[command](ckpt, tmp_path))
    error = capsys.readouterr().err
    assert code == 2 and "bomb.ckpt: not a readable checkpoint" in error and not marker.exists()


@pytest.fixture
def pickle_server(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """A loopback HTTP server that serves a pickle payload; yields (URL, requests seen, marker)."""
    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps({"state_dict": {}, "payload": _Payload(marker)})
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/model.ckpt", seen, marker
    finally:
        server.shutdown()
        server.server_close()


def test_fit_refuses_a_checkpoint_url_without_fetching_it(
    tmp_path: Path, pickle_server, capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen, marker = pickle_server
    code = main(COMMANDS["fit --ckpt_path"](url, tmp_path))  # type: ignore[arg-type]
    error = capsys.readouterr().err
    assert code == 2 and "does not load checkpoints from URLs" in error and "download it first" in error
    assert seen == [] and not marker.exists()


def test_lightnings_own_checkpoint_reader_refuses_remote_files_and_pickles(
    tmp_path: Path, pickle_server
) -> None:
    """The second barrier: the checkpoint reader foleyzoo gives Lightning reads local files with weights_only."""
    from foleyzoo.training.checkpoint_io import AtomicCheckpointIO

    url, seen, marker = pickle_server
    reader = AtomicCheckpointIO()
    with pytest.raises(ValueError, match="remote"):
        reader.load_checkpoint(url)
    bomb = _pickle_bomb(tmp_path / "bomb.ckpt", marker)
    with pytest.raises(pickle.UnpicklingError):
        reader.load_checkpoint(bomb)
    assert seen == [] and not marker.exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder / "missing.ckpt", "no such checkpoint file"),
        (lambda folder: folder, "is a folder, not a checkpoint file"),
    ],
    ids=["missing file", "folder"],
)
def test_fit_ckpt_path_problems_are_one_line(tmp_path: Path, make, message: str, capsys) -> None:
    code = main(COMMANDS["fit --ckpt_path"](make(tmp_path), tmp_path / "run"))
    error = capsys.readouterr().err
    assert code == 2 and message in error and len(error.strip().splitlines()) == 1


def test_instantiating_an_allowed_config_still_works_from_a_bundle_folder(tmp_path: Path, inside) -> None:
    from foleyzoo.plugins.allowlist import instantiate_from_config

    inside(tmp_path)
    (tmp_path / "sampler.yaml").write_text("class_path: HeunSampler\ninit_args:\n  steps: 7\n")
    built = instantiate_from_config("sampler.yaml", Sampler, base_dirs=[tmp_path])
    assert type(built).__name__ == "HeunSampler" and built.steps == 7
    module = instantiate_from_config(
        {"class_path": "foleyzoo.training.toy.ToyFlowMatching", "init_args": {"hidden": 8}}, LightningModule
    )
    assert type(module).__name__ == "ToyFlowMatching"


def test_a_path_through_an_allowed_module_to_anything_else_is_refused() -> None:
    from foleyzoo.plugins.allowlist import is_allowed_class_path

    assert is_allowed_class_path("foleyzoo.samplers.ode.EulerSampler")
    assert not is_allowed_class_path("foleyzoo.cli.main.importlib.import_module")
    assert not is_allowed_class_path("foleyzoo.io.media.os.system")
    assert not is_allowed_class_path("torch.optim.optimizer.torch.load")


def test_a_config_string_that_is_no_import_path_stays_allowed() -> None:
    """Plain values with dots (file names, timm model tags) are not import paths of anything installed."""
    from foleyzoo.plugins.allowlist import check_config_allowed

    check_config_allowed(
        {
            "class_path": "ToyFlowMatching",
            "init_args": {"checkpoint": "last.ckpt", "tag": "vit_small.augreg_in21k"},
        }
    )
    with pytest.raises(ConfigError, match=r"refusing to import 'subprocess\.Popen'"):
        check_config_allowed({"class_path": "ToyFlowMatching", "init_args": {"tag": "subprocess.Popen"}})


def test_a_named_text_file_too_large_to_check_is_refused_and_a_binary_one_ignored(
    tmp_path: Path, inside
) -> None:
    from foleyzoo.plugins.allowlist import check_config_allowed

    plant = inside(tmp_path)
    padding = "# filler\n" * 200_000  # about 1.8 MB of YAML comments before the class path
    (tmp_path / "big.yaml").write_text(f"{padding}class_path: {plant.class_path}\n")
    with pytest.raises(ForbiddenClassError, match=r"big\.yaml.*too large to check"):
        check_config_allowed({"class_path": "ToyFlowMatching", "init_args": {"sampler": "big.yaml"}})
    (tmp_path / "weights.ckpt").write_bytes(b"\0" * (2 << 20))  # a checkpoint path is no config
    check_config_allowed({"class_path": "ToyFlowMatching", "init_args": {"checkpoint": "weights.ckpt"}})
    assert not plant.ran()
