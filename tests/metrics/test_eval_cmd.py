"""``foleyzoo eval`` on SynthFoley files: pairing by stem, manifests, the JSON record, and clear errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tests.stage_checkpoints import TINY_CONTRASTIVE, TINY_SYNC, write_checkpoint

from foleyzoo.cli import eval_cmd
from foleyzoo.errors import ConfigError
from foleyzoo.io.media import write_wav
from foleyzoo.metrics import inputs as eval_inputs
from foleyzoo.synthfoley.generator import generate_clip, write_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    videos, reference, generated = root / "videos", root / "reference", root / "generated"
    for folder in (reference, generated):
        folder.mkdir()
    for index in range(4):
        clip = generate_clip((2024, index))
        stem = f"clip_{index:05d}"
        write_clip(videos, stem, clip)
        write_wav(reference / f"{stem}.wav", clip.audio, 16000)
        write_wav(generated / f"{stem}.wav", clip.audio, 16000)
    write_wav(generated / "stray.wav", generate_clip(99).audio, 16000)  # no reference: unpaired
    contrastive, _ = write_checkpoint(TINY_CONTRASTIVE, root / "avc.ckpt")
    sync, _ = write_checkpoint(TINY_SYNC, root / "sync.ckpt")
    return {
        "root": root,
        "videos": videos,
        "reference": reference,
        "generated": generated,
        "avc": contrastive,
        "sync": sync,
    }


def run(capsys, *argv) -> tuple[int, str, str]:
    code = eval_cmd.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_identical_audio_scores_perfectly_and_the_json_records_every_setting(clips, capsys):
    out = clips["root"] / "result.json"
    code, printed, _ = run(
        capsys, "--generated", clips["generated"], "--reference", clips["reference"], "--videos", clips["videos"],
        "--embedders", f"contrastive={clips['avc']}", f"sync={clips['sync']}",
        "--metrics", "fd", "av-align", "desync", "synthfoley", "--duration", "4", "--json", out,
    )  # fmt: skip
    assert code == 0
    record = json.loads(out.read_text())
    results = record["results"]
    assert record["pairs"] == 4 and record["unpaired"] == {"generated_only": ["stray"], "reference_only": []}
    assert results["FD-AVContrastive"] == pytest.approx(0.0, abs=1e-6)  # the same clips as the reference
    assert -1.0 <= results["AV-Align-AVContrastive"] <= 1.0 and results["DeSync-SyncPretraining"] >= 0.0
    assert results["SynthFoley-f1"] > 0.9  # the reference itself places its onsets
    settings = record["settings"]
    assert (
        settings["audio"]["duration_s"] == 4.0
        and settings["audio"]["network_sample_rates"]["contrastive"] == 16000
    )
    assert settings["networks"]["contrastive"]["path"] == str(clips["avc"].resolve())
    assert len(settings["networks"]["sync"]["sha256"]) == 64
    assert "every window gets a grid offset" in settings["desync"]  # a judge without the extra class
    assert (
        record["directions"]["FD-AVContrastive"] == "lower"
        and record["directions"]["SynthFoley-f1"] == "higher"
    )
    assert "| FD-AVContrastive |" in printed and "unpaired" in printed and "stray" in printed


def test_the_videos_soundtracks_and_manifests_stand_in_for_folders(clips, capsys):
    manifest = clips["root"] / "reference.csv"
    manifest.write_text("id,caption,path\n" + "".join(
        f"clip_{i:05d},a sound,{clips['reference'] / f'clip_{i:05d}.wav'}\n" for i in (0, 2)
    ))  # fmt: skip
    out = clips["root"] / "manifest.json"
    code, _, err = run(
        capsys, "--generated", clips["generated"], "--reference", manifest, "--embedders", f"contrastive={clips['avc']}",
        "--metrics", "fd", "--duration", "4", "--json", out,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out.read_text())["pairs"] == 2
    # no --reference: the videos' own (AAC) soundtracks are the reference
    code, _, err = run(
        capsys, "--generated", clips["generated"], "--videos", clips["videos"], "--embedders", f"contrastive={clips['avc']}",
        "--metrics", "fd", "--duration", "4", "--json", out,
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out.read_text())
    assert record["pairs"] == 4 and 0.0 < record["results"]["FD-AVContrastive"] < 1.0


def test_favd_sees_audio_given_to_the_wrong_videos_where_fd_cannot(clips, capsys, tmp_path):
    """Every clip's file holds its neighbour's sound: the same set of sounds (FD 0), wrongly paired (FAVD > 0)."""
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for index in range(4):
        write_wav(shuffled / f"clip_{index:05d}.wav", generate_clip((2024, (index + 1) % 4)).audio, 16000)
    scores = {}
    for name, folder in (("same", clips["generated"]), ("shuffled", shuffled)):
        out = tmp_path / f"{name}.json"
        code, _, err = run(
            capsys, "--generated", folder, "--reference", clips["reference"], "--videos", clips["videos"],
            "--embedders", f"contrastive={clips['avc']}", "--duration", "4", "--json", out,
        )  # fmt: skip
        assert code == 0, err
        scores[name] = json.loads(out.read_text())
    record = scores["same"]
    assert "favd" in record["settings"]["metrics"]  # chosen by default when the videos are given
    assert "Fréchet audio-visual distance" in record["settings"]["favd"]
    assert record["directions"]["FAVD-AVContrastive"] == "lower"
    same, wrong = record["results"], scores["shuffled"]["results"]
    assert same["FAVD-AVContrastive"] < 1e-12 and wrong["FD-AVContrastive"] < 1e-12  # the reference's sounds
    # the untrained checkpoint's embeddings barely vary (covariance traces ~5e-5 audio, ~3e-7 video), so
    # a wrong pairing moves FAVD little in absolute terms (8.4e-7 measured), far above round-off (0 here)
    assert wrong["FAVD-AVContrastive"] > 1e-7, wrong
    code, _, err = run(
        capsys, "--generated", clips["generated"], "--reference", clips["reference"],
        "--embedders", f"contrastive={clips['avc']}", "--metrics", "favd",
    )  # fmt: skip
    assert code == 2 and "'favd' needs" in err and "--videos" in err


def test_vggsound_rows_become_ids(tmp_path):
    vggsound = tmp_path / "vggsound.csv"
    vggsound.write_text("---g-f_I2yQ,1,people marching,test\n--0PQM4-hqg,30,waterfall burbling,train\n")
    rows = eval_inputs.read_manifest(vggsound)
    assert [(row.id, row.caption) for row in rows] == [("---g-f_I2yQ_000001", "people marching")]
    bad = tmp_path / "bad.csv"
    bad.write_text("a;b;c\n")
    with pytest.raises(ConfigError, match="not a manifest"):
        eval_inputs.read_manifest(bad)


def test_bad_inputs_exit_non_zero_with_one_line_naming_the_problem(clips, capsys, tmp_path):
    absent = tmp_path / "absent"
    code, _, err = run(
        capsys,
        "--generated",
        absent,
        "--reference",
        clips["reference"],
        "--embedders",
        f"contrastive={clips['avc']}",
    )
    assert code == 2 and str(absent) in err and "not found" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "--generated", clips["generated"], "--reference", clips["reference"], "--metrics", "kl"
    )
    assert code == 2 and "PANNs" in err
    code, _, err = run(
        capsys,
        "--generated",
        clips["generated"],
        "--reference",
        clips["reference"],
        "--embedders",
        "fad=x.pth",
    )
    assert code == 2 and "unknown network 'fad'" in err
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"garbage")
    code, _, err = run(
        capsys,
        "--generated",
        clips["generated"],
        "--reference",
        clips["reference"],
        "--embedders",
        f"panns={broken}",
    )
    assert code == 2 and str(broken) in err and "not a readable checkpoint" in err
    empty = tmp_path / "other"
    empty.mkdir()
    write_wav(empty / "unrelated.wav", generate_clip(5).audio, 16000)
    code, _, err = run(
        capsys,
        "--generated",
        empty,
        "--reference",
        clips["reference"],
        "--embedders",
        f"contrastive={clips['avc']}",
    )
    assert code == 2 and "no generated file shares a stem" in err
    code, _, err = run(
        capsys,
        "--generated",
        clips["generated"],
        "--reference",
        clips["reference"],
        "--embedders",
        f"sync={clips['sync']}",
        "--metrics",
        "desync",
    )
    assert code == 2 and "--videos" in err


def test_the_record_says_where_a_judge_puts_what_it_cannot_place(clips, capsys):
    """A sync judge with the "nothing to synchronise" class: the JSON says such windows count as 1 s."""
    config = copy.deepcopy(TINY_SYNC)
    config["init_args"]["eventless_fraction"] = 0.125
    judge, _ = write_checkpoint(config, clips["root"] / "judge.ckpt")
    out = clips["root"] / "judge.json"
    code, _, err = run(
        capsys, "--generated", clips["generated"], "--videos", clips["videos"], "--embedders", f"sync={judge}",
        "--metrics", "desync", "--duration", "4", "--json", out,
    )  # fmt: skip
    assert code == 0, err
    record = json.loads(out.read_text())
    assert "counts as 1 s, the edge of its grid" in record["settings"]["desync"]
    assert 0.0 <= record["results"]["DeSync-SyncPretraining"] <= 1.0


THIRD_PARTY_EMBEDDER = '''
import torch
from foleyzoo.api import Embedder, Embedding

class BandEnergy(Embedder):
    """Log energy in 8 bands of the spectrum: a stand-in for a third party's evaluation network."""

    def __init__(self, weights: str) -> None:
        super().__init__()
        self.weights, self.sample_rate = weights, 16000

    def embed(self, inputs):
        spectrum = torch.fft.rfft(inputs.samples[:, 0]).abs() ** 2
        bands = torch.stack([band.sum(-1) for band in spectrum.chunk(8, dim=-1)], dim=-1)
        return Embedding(values=torch.log1p(bands))
'''


def test_a_registered_third_party_embedder_gets_its_own_frechet_distance(
    clips, capsys, plugin_modules, monkeypatch
):
    from foleyzoo.plugins.registry import load_plugins

    plugin_modules(fz_bands=THIRD_PARTY_EMBEDDER)
    monkeypatch.setenv("FOLEYZOO_PLUGINS", "fz_bands")
    load_plugins(force=True)
    try:
        code, printed, err = run(
            capsys, "--generated", clips["generated"], "--reference", clips["reference"],
            "--embedders", f"BandEnergy={clips['root']}", "--metrics", "fd", "--duration", "4",
        )  # fmt: skip
    finally:
        monkeypatch.delenv("FOLEYZOO_PLUGINS")
        load_plugins(force=True)
    assert code == 0, err
    assert "| FD-BandEnergy |" in printed
    value = float(printed.split("| FD-BandEnergy |")[1].split("|")[0])
    assert abs(value) < 1e-3  # the generated files are the reference files
