"""MelVAE: shapes and rates, latent normalisation, recipes, checkpoint resume and reload, and the codec CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from foleyzoo.api import AudioCodec, Latents, Waveform
from foleyzoo.cli.codec import main as codec_main
from foleyzoo.codecs.melvae import MelVAE, kl_divergence, mean_frame_l1
from foleyzoo.io.checkpoints import load_module, read_checkpoint
from foleyzoo.synthfoley.audio_datamodule import SynthFoleyAudio
from foleyzoo.training.cli import parse_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "recipes" / "codec" / "melvae-tiny-16k.yaml"
TINY_MODEL = yaml.safe_load(TINY.read_text())["model"]["init_args"]
PAPER = ROOT / "recipes" / "codec" / "melvae-44k.yaml"


def small_codec(**overrides: object) -> MelVAE:
    """A fast MelVAE for shape tests (random weights, fixed seed)."""
    torch.manual_seed(0)
    settings = {"n_mels": 32, "latent_dim": 8, "downsample": 4, "channels": 16, "blocks": 1, **overrides}
    return MelVAE(**settings).eval()


@pytest.mark.parametrize("samples", [256, 4000, 16000, 16001, 12345])
def test_encode_decode_shapes_and_rates(samples: int) -> None:
    codec = small_codec()
    audio = Waveform(0.1 * torch.randn(2, 1, samples, generator=torch.Generator().manual_seed(1)), 16000)
    latents = codec.encode(audio)
    frames = samples // 256 + 1
    assert latents.values.shape == (2, math.ceil(frames / 4), 8) == (2, codec.latent_frames(samples), 8)
    assert latents.frame_rate == codec.latent_rate == pytest.approx(16000 / 256 / 4)
    mel = codec.decode(latents)
    assert mel.values.shape == (2, 1, 32, latents.values.shape[1] * 4)
    assert mel.frame_rate == pytest.approx(62.5) and mel.sample_rate == 16000
    assert codec.reconstruct(audio).values.shape == (2, 1, 32, frames)
    assert isinstance(codec, AudioCodec) and codec.latent_dim == 8 and codec.sample_rate == 16000


@pytest.mark.parametrize("seconds", [0.5, 1.0, 4.0, 4.2, 3.3])
def test_generation_samples_as_many_frames_as_training_encodes(seconds: float) -> None:
    """Generation asks the codec how many latents stand for a clip; a MelVAE answers what it encodes.

    Centred mel frames give a clip one more than seconds × latent rate when that is whole (4 s at 62.5 a
    second: 251), and the MM-DiT trains on those; sampling ceil(4 × 62.5) = 250 left it a last token it
    had only seen with a frame after it, which a longer-trained model filled with a click.
    """
    codec = small_codec(downsample=2, hop_length=128)
    samples = round(seconds * codec.sample_rate)
    encoded = codec.encode(Waveform(torch.zeros(1, 1, samples), codec.sample_rate)).values.shape[1]
    assert codec.latent_frames_for(seconds) == encoded
    whole = seconds * codec.latent_rate
    assert encoded == (int(whole) + 1 if whole.is_integer() else math.ceil(whole))
    assert AudioCodec.latent_frames_for(codec, seconds) == math.ceil(whole)  # the interface's default


def test_a_clip_ending_mid_latent_is_padded_with_its_own_last_frame_not_silence() -> None:
    """A loud clip's last latent must not encode a cliff to silence (the MM-DiT learnt it as a burst)."""
    codec = small_codec()
    loud = Waveform(0.5 * torch.randn(1, 1, 16000, generator=torch.Generator().manual_seed(2)), 16000)
    mel = codec.log_mel(loud)
    assert mel.shape[-1] % 4 != 0  # 63 frames: the encoder needs a multiple of 4
    padded = codec.pad_frames(mel)
    assert padded.shape[-1] % 4 == 0
    assert torch.equal(
        padded[..., mel.shape[-1] :], mel[..., -1:].expand(-1, -1, padded.shape[-1] - mel.shape[-1])
    )
    assert float(padded[..., -1].mean()) > codec.log_floor + 5  # far from the silence floor


def test_encode_refuses_stereo_and_wrong_rate() -> None:
    codec = small_codec()
    with pytest.raises(ValueError, match="mono"):
        codec.encode(Waveform(torch.zeros(1, 2, 4000), 16000))
    with pytest.raises(ValueError, match="44100 Hz"):
        codec.encode(Waveform(torch.zeros(1, 1, 4000), 44100))
    with pytest.raises(ValueError, match="power of two"):
        small_codec(downsample=3)


def test_measured_latent_stats_give_unit_variance_and_cancel_in_decode() -> None:
    codec = small_codec()
    data = SynthFoleyAudio(6, seed=3, duration=2.0)
    audio = Waveform(torch.stack([data[i]["audio"] for i in range(len(data))]), 16000)
    raw = codec.encode(audio).values  # stats are still the identity
    assert raw.std(dim=(0, 1)).sub(1).abs().max() > 0.1  # so the test below can fail
    before = codec.decode(codec.encode(audio)).values
    codec.measure_latent_stats([audio])
    values = codec.encode(audio).values
    assert values.mean(dim=(0, 1)).abs().max() < 1e-4
    assert values.std(dim=(0, 1)).sub(1).abs().max() < 1e-3
    torch.testing.assert_close(codec.decode(codec.encode(audio)).values, before, atol=1e-4, rtol=1e-4)


def test_running_latent_stats_track_batches() -> None:
    codec = small_codec(stats_momentum=0.5)
    first = torch.randn(4, 8, 10, generator=torch.Generator().manual_seed(0)) * 3 + 2
    codec.update_latent_stats(first)
    torch.testing.assert_close(codec.latent_mean, first.mean(dim=(0, 2)))
    codec.update_latent_stats(torch.zeros(4, 8, 10))
    torch.testing.assert_close(codec.latent_mean, first.mean(dim=(0, 2)) / 2)


def test_losses() -> None:
    assert kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0
    assert kl_divergence(torch.ones(2, 3), torch.zeros(2, 3)).item() == pytest.approx(0.5)
    flat = torch.ones(2, 4, 5)
    assert mean_frame_l1(flat).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("recipe", [TINY, PAPER])
def test_recipes_parse(recipe: Path) -> None:
    config = parse_config(["fit", "--config", str(recipe)])
    assert config.fit.model.class_path == "foleyzoo.codecs.melvae.MelVAE"
    assert config.fit.model.init_args.optimizer.class_path == "torch.optim.AdamW"
    assert config.fit.model.init_args.discriminator_optimizer.class_path == "torch.optim.AdamW"


def test_paper_scale_recipe_on_meta_device() -> None:
    init_args = yaml.safe_load(PAPER.read_text())["model"]["init_args"]
    plain = {k: v for k, v in init_args.items() if not isinstance(v, dict)}
    with torch.device("meta"):
        codec = MelVAE(**plain)
    assert codec.sample_rate == 44100 and codec.n_mels == 128 and codec.latent_dim == 40
    assert codec.latent_rate == pytest.approx(44100 / 1024, abs=1e-6)  # ≈ 43.07 Hz, 1024× down-sampling
    vae = sum(p.numel() for p in [*codec.encoder.parameters(), *codec.decoder.parameters()])
    disc = sum(p.numel() for p in codec.discriminator.parameters())
    assert 20e6 < vae < 60e6, vae
    assert 0.1e6 < disc < 5e6, disc


def fit_args(root: Path, max_steps: int, *extra: str) -> list[str]:
    """``foleyzoo fit`` on the tiny recipe shrunk to seconds: tiny model and data, checkpoints in ``root``."""
    return [
        "fit",
        "--config",
        str(TINY),
        f"--trainer.max_steps={max_steps}",
        f"--trainer.default_root_dir={root}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.limit_val_batches=1",
        "--trainer.check_val_every_n_epoch=1",
        "--trainer.callbacks="
        + json.dumps(
            [{"class_path": "ModelCheckpoint", "init_args": {"dirpath": f"{root}/ckpt", "save_last": True}}]
        ),
        "--model.init_args.channels=8",
        "--model.init_args.blocks=1",
        "--model.init_args.adversarial_start_step=0",
        "--data.init_args.num_train=4",
        "--data.init_args.num_val=2",
        "--data.init_args.batch_size=2",
        "--data.init_args.clip_duration=1.0",
        "--data.init_args.corpus_dir=null",  # the corpus-backed data is tested in test_corpus_data.py
        *extra,
    ]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-batch run of the tiny recipe (4 optimizer steps) with its checkpoints."""
    from foleyzoo.cli.main import run

    root = tmp_path_factory.mktemp("melvae")
    assert run(fit_args(root, 4)) in (0, None)
    return root


def test_resume_restores_both_optimizers(tiny_run: Path) -> None:
    from foleyzoo.cli.main import run

    last = tiny_run / "ckpt" / "last.ckpt"
    first = read_checkpoint(last)
    assert first["global_step"] == 4
    states = first["optimizer_states"]
    assert len(states) == 2 and all(state["state"] for state in states)
    (schedule,) = first["lr_schedulers"]  # the recipe's cosine schedule of the VAE's optimizer
    assert schedule["last_epoch"] == 2  # stepped once a batch
    assert run(fit_args(tiny_run, 8, f"--ckpt_path={last}")) in (0, None)
    resumed = read_checkpoint(last)
    assert resumed["global_step"] == 8
    steps = [next(iter(state["state"].values()))["step"].item() for state in resumed["optimizer_states"]]
    assert steps == [4.0, 4.0]  # each optimizer stepped twice before and twice after the resume
    assert resumed["lr_schedulers"][0]["last_epoch"] == 4  # the schedule went on where it stopped


def test_load_module_rebuilds_the_codec(tiny_run: Path) -> None:
    codec = load_module(tiny_run / "ckpt" / "last.ckpt").eval()
    assert isinstance(codec, MelVAE) and codec.latent_dim == TINY_MODEL["latent_dim"]
    assert codec.n_mels == TINY_MODEL["n_mels"] and codec.mel_config.hop_length == TINY_MODEL["hop_length"]
    stored = read_checkpoint(tiny_run / "ckpt" / "last.ckpt")["state_dict"]
    torch.testing.assert_close(codec.latent_std, stored["latent_std"])
    assert bool(codec.latent_stats_ready)


def test_codec_cli_end_to_end(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors import safe_open

    from foleyzoo.io.media import read_audio, write_wav

    ckpt = str(tiny_run / "ckpt" / "last.ckpt")
    source = tmp_path / "tone.wav"
    samples = 12000
    write_wav(source, 0.3 * torch.sin(torch.arange(samples) * 0.2)[None], 16000)
    assert codec_main(["encode", "--checkpoint", ckpt, str(source), "--output", str(tmp_path / "lat")]) == 0
    latent_file = tmp_path / "lat" / "tone.safetensors"
    with safe_open(str(latent_file), framework="pt") as handle:
        hop, downsample = TINY_MODEL["hop_length"], TINY_MODEL["downsample"]
        frames = math.ceil((samples // hop + 1) / downsample)
        assert handle.get_tensor("latents").shape == (frames, TINY_MODEL["latent_dim"])
        assert float(handle.metadata()["frame_rate"]) == pytest.approx(16000 / hop / downsample)
    for command, inputs in (("decode", [str(latent_file)]), ("reconstruct", [str(source)])):
        out = tmp_path / command
        assert codec_main([command, "--checkpoint", ckpt, *inputs, "--output", str(out)]) == 0
        audio = read_audio(out / "tone.wav", 16000)
        assert audio.shape == (1, samples) and torch.isfinite(audio).all()
    missing = tmp_path / "nope.wav"
    assert codec_main(["reconstruct", "--checkpoint", ckpt, str(missing), "--output", str(tmp_path)]) == 1
    assert str(missing) in capsys.readouterr().err


def test_decode_rejects_latents_of_another_width(tmp_path: Path) -> None:
    codec = small_codec()
    with pytest.raises(ValueError, match="channels"):
        codec.decode(Latents(torch.zeros(1, 5, 3), frame_rate=codec.latent_rate))


def _clicks(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A tone with a click every 0.3 s: sound whose every part the codec must keep in place."""
    from foleyzoo.io.media import write_wav

    t = torch.arange(round(seconds * rate)) / rate
    audio = 0.2 * torch.sin(2 * math.pi * 330 * t)
    audio[(t * 1000).long() % 300 == 0] = 0.9
    write_wav(path, audio[None], rate)
    return path


def test_long_files_are_coded_a_chunk_at_a_time_with_the_same_result(tiny_run: Path, tmp_path: Path) -> None:
    """Chunks of 1 s with a second of context give the latents of the whole file: memory stays bounded
    for any length without changing what the codec computes (the tiny codec's receptive field is shorter)."""
    from foleyzoo.cli.codec import encode_file, load_codec

    codec = load_codec(str(tiny_run / "ckpt" / "last.ckpt"))
    source = _clicks(tmp_path / "long.wav", seconds=4.3)
    with torch.no_grad():
        whole, samples = encode_file(codec, source, chunk_seconds=30.0)
        chunked, chunked_samples = encode_file(codec, source, chunk_seconds=1.0)
    assert samples == chunked_samples == round(4.3 * 16000)
    assert chunked.values.shape == whole.values.shape
    torch.testing.assert_close(chunked.values, whole.values, atol=1e-4, rtol=1e-4)


def test_reconstruct_in_chunks_keeps_the_length_and_goes_on_past_a_bad_file(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import soundfile as sf

    ckpt = str(tiny_run / "ckpt" / "last.ckpt")
    first, last = _clicks(tmp_path / "first.wav", 2.5), _clicks(tmp_path / "last.wav", 1.1)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not a wav at all")
    out = tmp_path / "out"
    command = ["reconstruct", "--checkpoint", ckpt, str(first), str(bad), str(last), "--output", str(out)]
    assert codec_main([*command, "--chunk-seconds", "1"]) == 1
    error = capsys.readouterr().err
    assert f"failed {bad}" in error and len(error.strip().splitlines()) == 1
    assert sf.info(str(out / "first.wav")).frames == round(2.5 * 16000)
    assert sf.info(str(out / "last.wav")).frames == round(1.1 * 16000)
    assert not (out / "bad.wav").exists()
