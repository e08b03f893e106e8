"""``foleyzoo generate`` never counts a cut file as done, never writes out of its folder, never writes
non-finite audio, and answers each bad option, name or bundle with one line while the batch goes on."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.data.video_fixtures import make_video

from foleyzoo.cli.main import run
from foleyzoo.errors import ConfigError, MediaError
from foleyzoo.io import media
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.levels import CEILING


def generate(bundle: Path, inputs: list[Path], out: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--model",
        str(bundle),
        "--input",
        *map(str, inputs),
        "--output",
        str(out),
        "--steps",
        "1",
        *extra,
    ]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4", seconds=1.0)


def test_cut_or_wrong_length_outputs_are_generated_again(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(generate(bundle, [clip], out)) == 0
    wav, mp4 = out / "clip.wav", out / "clip.mp4"
    whole_wav, whole_mp4 = wav.read_bytes(), mp4.read_bytes()
    assert run(generate(bundle, [clip], out)) == 0 and "0 written, 1 skipped" in capsys.readouterr().out
    for damage in (
        lambda: mp4.write_bytes(whole_mp4[: len(whole_mp4) // 2]),  # a kill while muxing
        lambda: wav.write_bytes(whole_wav[:88]),  # a kill while writing the WAV
        lambda: sf.write(str(wav), np.zeros((8000, 2), np.float32), 16000),  # whole, but half as long
    ):
        damage()
        assert run(generate(bundle, [clip], out)) == 0
        assert "1 written, 0 skipped" in capsys.readouterr().out
        assert sf.info(str(wav)).frames == 16000 and media.probe(mp4).has_audio


def test_a_failing_write_leaves_neither_the_output_nor_a_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "clip.wav"

    def half_then_killed(path, data, *args, **kwargs):
        Path(path).write_bytes(b"RIFF\x00\x00")
        raise KeyboardInterrupt

    monkeypatch.setattr(media.sf, "write", half_then_killed)
    with pytest.raises(KeyboardInterrupt):
        media.write_wav(target, np.zeros((1, 100), np.float32), 16000)
    assert list(tmp_path.iterdir()) == []


def test_an_output_linked_out_of_the_folder_is_refused_and_its_target_kept(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (out / "clip.mp4").symlink_to(victim)
    assert run(generate(bundle, [clip], out)) == 2
    error = capsys.readouterr().err
    assert "clip.mp4 resolves outside the output folder" in error and victim.read_text() == "keep me"


def test_non_finite_guidance_is_refused_and_diverged_audio_never_written(
    bundle: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(generate(bundle, [clip], out, "--cfg", "nan")) == 2
    assert "argument --cfg: must be a finite number" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="finite number"):  # the same from Python
        FoleyPipeline.from_bundle(bundle).generate(clip, cfg=float("nan"))
    assert run(generate(bundle, [clip], out, "--cfg", "1e30")) == 1
    error = capsys.readouterr().err
    assert f"failed {clip}" in error and "NaN or Inf" in error and "--cfg" in error and "1e+30" in error
    assert not (out / "clip.wav").exists() and not (out / "clip.mp4").exists()


def test_levels_keep_the_output_below_the_ceiling_by_one_gain_or_the_limiter(
    bundle: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = FoleyPipeline.from_bundle(bundle)
    vocode = pipeline.vocoder.vocode
    monkeypatch.setattr(pipeline.vocoder, "vocode", lambda mel: replace_samples(vocode(mel), 40.0))
    raw = pipeline.generate(clip, steps=1, normalize=False).samples
    assert float(raw.abs().max()) > 1.0  # loud enough that both modes must act
    gained = pipeline.generate(clip, steps=1).samples  # the default: one gain
    limited = pipeline.generate(clip, steps=1, levels="limiter").samples
    for audio in (gained, limited):
        assert float(audio.abs().max()) <= CEILING
    torch.testing.assert_close(gained, raw * (CEILING / float(raw.abs().max())), rtol=1e-5, atol=1e-7)
    assert not torch.allclose(limited, gained)
    with pytest.raises(ConfigError, match="levels \\(--levels\\) must be one of gain, limiter"):
        pipeline.generate(clip, steps=1, levels="loudest")


def replace_samples(audio, factor: float):
    """``audio`` (a Waveform) ``factor`` times louder."""
    return dataclasses.replace(audio, samples=audio.samples * factor)


def test_generate_writes_with_the_limiter_when_asked(
    bundle: Path, clip: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert run(generate(bundle, [clip], out, "--levels", "limiter", "--no-mux")) == 0
    assert np.abs(sf.read(str(out / "clip.wav"))[0]).max() <= CEILING + 1e-6
    capsys.readouterr()
    assert run(generate(bundle, [clip], tmp_path / "other", "--levels", "loud")) == 2
    error = capsys.readouterr().err
    assert "argument --levels: invalid choice: 'loud'" in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--seed", str(2**70)], "argument --seed: must be from 0 to 2**64 - 1"),
        (["--device", "bogus"], "device 'bogus' is not a torch device"),
        (["--steps", "0"], "argument --steps: must be at least 1"),
    ],
    ids=["seed beyond 64 bits", "unknown device", "no steps"],
)
def test_bad_options_are_one_line(
    bundle: Path, clip: Path, tmp_path: Path, option: list[str], message: str, capsys
) -> None:
    assert run(generate(bundle, [clip], tmp_path / "out", *option)) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_an_output_that_is_a_file_is_one_line(bundle: Path, clip: Path, tmp_path: Path, capsys) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert run(generate(bundle, [clip], taken)) == 2
    error = capsys.readouterr().err
    assert "--output" in error and "is a file, not a folder" in error and len(error.strip().splitlines()) == 1


def test_names_that_cannot_be_written_fail_alone_and_the_batch_goes_on(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("v1", "v2", "v3"):
        make_video(tmp_path / f"{name}.mp4", seconds=0.5)
    manifest = tmp_path / "list.csv"
    long_id = "x" * 300
    manifest.write_text(f"id,path\na,v1.mp4\na.wav/b,v2.mp4\n{long_id},v3.mp4\n")
    out = tmp_path / "out"
    assert run(generate(bundle, [manifest], out, "--no-mux")) == 1
    captured = capsys.readouterr()
    assert "1 written, 0 skipped (already there), 2 failed" in captured.out
    assert "needs a folder 'a.wav' where" in captured.err and "limited to 255 bytes" in captured.err
    assert (out / "a.wav").is_file() and sf.info(str(out / "a.wav")).frames == 8000


def _broken_bundle(bundle: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(bundle, folder)
    for name, edit in change.items():
        data = json.loads((folder / name).read_text())
        edit(data)
        (folder / name).write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"config.json": lambda c: c.pop("generation")},
            r"config\.json: key 'generation' must be an object \(missing\)",
        ),
        (
            {"config.json": lambda c: c.pop("data_format")},
            r"config\.json: key 'data_format' must be an object",
        ),
        (
            {"config.json": lambda c: c["parts"].update(codec="MelVAE")},
            r"config\.json: parts\.codec must be an object",
        ),
        (
            {"card.json": lambda c: c.update(licence_url="x")},
            r"card\.json: unknown key 'licence_url' in the model card",
        ),
    ],
    ids=["no generation", "no data_format", "part as a bare string", "unknown card key"],
)
def test_a_malformed_bundle_is_named_with_its_key(bundle: Path, tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FoleyPipeline.from_bundle(_broken_bundle(bundle, tmp_path, change))


def test_an_unchanged_bundle_loads_from_its_own_folder(bundle: Path, tmp_path: Path, monkeypatch) -> None:
    """The positive control of the crafted-file tests: the same steps with an honest bundle work."""
    folder = _broken_bundle(bundle, tmp_path, {})
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend("")
    pipeline = FoleyPipeline.from_bundle(".")
    assert pipeline.card.name == "small"


def test_mp4_outputs_are_checked_for_sound_and_length(tmp_path: Path) -> None:
    from foleyzoo.cli.generate_cmd import finished_outputs

    video = make_video(tmp_path / "v.mp4", seconds=1.0)
    wav = tmp_path / "v.wav"
    media.write_wav(wav, np.zeros((2, 16000), np.float32), 16000)
    muxed = tmp_path / "muxed.mp4"
    media.mux_audio(video, np.zeros((2, 16000), np.float32), 16000, muxed)
    assert finished_outputs(wav, muxed, 1.0, 16000)
    assert not finished_outputs(wav, muxed, 2.0, 16000)  # another video's length
    assert not finished_outputs(wav, tmp_path / "v.wav", 1.0, 16000)  # no picture
    with pytest.raises(MediaError):
        media.probe(tmp_path / "none.mp4")
