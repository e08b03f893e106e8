"""Loading MMAudio's VAEs and BigVGAN vocoders: the manifest, the key table, and a clear refusal of anything else.

Full-size networks are built on the meta device only; files are written with stride-0 tensors (one stored
element each), so a full-size state dict costs kilobytes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.api import AudioCodec, Mel, Vocoder, Waveform
from foleyzoo.codecs.edm2_codec import EDM2MelVAE
from foleyzoo.errors import ConfigError
from foleyzoo.vocoders.alias_free import resampling_filter
from foleyzoo.vocoders.bigvgan import config_arguments
from foleyzoo.zoo.mmaudio import CODEC_VARIANTS, VOCODER_VARIANTS, load_codec, load_vocoder
from foleyzoo.zoo.mmaudio.codec import CodecVariant, codec_key, vae_name_table
from foleyzoo.zoo.mmaudio.codec_loader import build_codec
from foleyzoo.zoo.mmaudio.codec_parity import BIGVGAN_V2_44K_CONFIG, VAE_CONFIGS, VOCODER_CONFIGS
from foleyzoo.zoo.mmaudio.manifest import codec_manifest, released_part
from foleyzoo.zoo.mmaudio.vocoder import MEL_KEYS, build_vocoder, read_architecture
from foleyzoo.zoo.testing import random_state_dict

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: tiny networks run many times faster so on a small shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def vae_state(variant: str, device: str = "meta") -> dict[str, torch.Tensor]:
    """Every key and shape the manifest lists for the variant's VAE (meta, or stride-0 on CPU)."""
    keys = released_part("codec", variant).keys
    if device == "meta":
        return {key: torch.empty(shape, device="meta") for key, shape in keys.items()}
    return {key: torch.tensor(0.5).expand(shape) for key, shape in keys.items()}


def vocoder_state(variant: str, device: str = "meta") -> dict[str, torch.Tensor]:
    """The vocoder's keys in the released files' layout: weight_g/weight_v pairs and the stored filters."""
    entry = codec_manifest()["vocoders"][variant]
    state: dict[str, torch.Tensor] = {}

    def tensor(shape):
        if device == "meta":
            return torch.empty(shape, device="meta")
        return torch.tensor(0.5).expand(shape)

    for key, shape in entry["keys"].items():
        if key.endswith(".weight") and len(shape) == 3:
            state[key + "_v"] = tensor(shape)
            state[key + "_g"] = tensor([shape[0], 1, 1])
        else:
            state[key] = tensor(shape)
    state["activation_post.upsample.filter"] = resampling_filter(2, 12)
    state["activation_post.downsample.lowpass.filter"] = resampling_filter(2, 12)
    return state


def v2_folder(tmp_path: Path, state: dict, **config_changes) -> Path:
    folder = tmp_path / "bigvgan_v2_44khz_128band_512x"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps({**BIGVGAN_V2_44K_CONFIG, "batch_size": 4, **config_changes})
    )
    torch.save({"generator": state}, folder / "bigvgan_generator.pt")
    return folder


# ------------------------------------------------------------------ the manifest


def test_the_manifest_records_the_published_files():
    manifest = codec_manifest()
    assert set(manifest["codecs"]) == set(CODEC_VARIANTS) and set(manifest["vocoders"]) == set(
        VOCODER_VARIANTS
    )
    names = {("codecs", "16k"): "v1-16.pth", ("codecs", "44k"): "v1-44.pth"}
    names.update({("vocoders", "16k"): "best_netG.pt", ("vocoders", "44k"): "bigvgan_generator.pt"})
    for (section, variant), file in names.items():
        entry = manifest[section][variant]
        assert entry["file"] == file and entry["url"].endswith(file) and len(entry["sha256"]) == 64
        assert entry["size"] > 4e8
    assert all(len(manifest[section]["16k"]["md5"]) == 32 for section in ("codecs", "vocoders"))
    assert (
        manifest["codecs"]["16k"]["licence"] == "CC-BY-NC-4.0"
        and manifest["vocoders"]["44k"]["licence"] == "MIT"
    )
    assert (
        manifest["vocoders"]["44k"]["revision"]
        and manifest["vocoders"]["44k"]["config"]["file"] == "config.json"
    )


@pytest.mark.parametrize(
    ("section", "variant"), [(s, v) for s in ("codecs", "vocoders") for v in ("16k", "44k")]
)
def test_the_listed_keys_account_for_the_published_size(section, variant):
    """float32 tensors of exactly these shapes (plus, for BigVGAN, weight-norm magnitudes and stored filters)
    fill all but the archive's few hundred bytes a tensor: the manifest describes the file."""
    entry = codec_manifest()[section][variant]
    elements = sum(math.prod(shape) for shape in entry["keys"].values())
    tensors = len(entry["keys"])
    if section == "vocoders":
        magnitudes = [
            shape[0] for key, shape in entry["keys"].items() if key.endswith(".weight") and len(shape) == 3
        ]
        elements += sum(magnitudes) + 12 * entry["stored_filters"]
        tensors += len(magnitudes) + entry["stored_filters"]
    overhead = entry["size"] - 4 * elements
    assert 100 * tensors < overhead < 600 * tensors


@pytest.mark.parametrize("variant", list(CODEC_VARIANTS))
def test_each_codec_built_on_meta_matches_its_released_file(variant):
    with torch.device("meta"):
        codec = EDM2MelVAE(**CODEC_VARIANTS[variant].codec_arguments())
    ours = {key: tuple(value.shape) for key, value in codec.vae.state_dict().items()}
    renamed = {codec_key(key): tuple(shape) for key, shape in released_part("codec", variant).keys.items()}
    assert set(renamed) == set(ours)
    assert all(renamed[key] == ours[key] or math.prod(renamed[key]) == math.prod(ours[key]) for key in ours)


@pytest.mark.parametrize("variant", list(CODEC_VARIANTS))
def test_a_synthetic_codec_state_dict_loads_strictly(variant):
    codec = build_codec(vae_state(variant), variant, device="meta")
    spec = CODEC_VARIANTS[variant]
    assert isinstance(codec, AudioCodec) and not codec.training
    assert codec.latent_dim == spec.latent_dim and codec.n_mels == spec.n_mels
    assert codec.latent_rate == pytest.approx(spec.sample_rate / spec.hop_length / 2)
    assert codec.mel_config.log10 == (variant == "16k") and not codec.mel_config.center


@pytest.mark.parametrize("variant", list(VOCODER_VARIANTS))
def test_a_synthetic_vocoder_state_dict_loads_strictly(variant):
    architecture = None
    if variant == "44k":  # as the loader reads it from config.json
        arguments = config_arguments(BIGVGAN_V2_44K_CONFIG, "config.json")
        architecture = {key: value for key, value in arguments.items() if key not in MEL_KEYS}
    vocoder = build_vocoder(vocoder_state(variant), variant, architecture, device="meta")
    assert isinstance(vocoder, Vocoder) and not vocoder.training
    assert vocoder.hop_length == CODEC_VARIANTS[variant].hop_length
    assert vocoder.generator.arch.use_tanh_at_final == (variant == "16k")
    assert (vocoder.generator.conv_post.bias is not None) == (variant == "16k")


def test_the_docs_show_the_vae_key_table():
    page = (Path(__file__).parents[2] / "docs" / "pretrained.md").read_text()
    for source, target in vae_name_table():
        assert f"| `{source}` | `{target}` |" in page, source


# ------------------------------------------------------------------ the public loaders on files


def test_load_codec_reads_a_released_layout_file(tmp_path):
    path = tmp_path / "v1-16.pth"
    torch.save(vae_state("16k", device="cpu"), path)
    codec = load_codec(path, "16k", verify=False, device="meta")  # full size: shapes only
    assert isinstance(codec, EDM2MelVAE) and codec.latent_dim == 20 and codec.vae.mel_mean.shape == (80,)


def test_load_codec_gives_mmaudios_output(tmp_path, monkeypatch):
    """File → checks → key table → codec: a tiny VAE (registered for the test) equals MMAudio's recording."""
    config = VAE_CONFIGS["vae_tiny_16k"]
    with safe_open(str(DATA / "mmaudio_codec_vae_tiny_16k.safetensors"), "pt") as stored:
        metadata, expected = stored.metadata(), stored.get_tensor("encode/1/mean")
    shapes = {key: tuple(shape) for key, shape in json.loads(metadata["mmaudio_shapes"]).items()}
    spec = CodecVariant(
        "tiny", "tiny.pth", 16000, 1024, 256, 80, 8000.0, True, config.latent_dim, config.hidden
    )
    monkeypatch.setitem(CODEC_VARIANTS, "tiny", spec)
    entry = {"file": "tiny.pth", "url": "https://example.invalid/tiny.pth", "keys": shapes}
    monkeypatch.setitem(codec_manifest()["codecs"], "tiny", entry)
    path = tmp_path / "tiny.pth"
    torch.save(random_state_dict(shapes, int(metadata["weights_seed"])), path)
    codec = load_codec(path, "tiny", verify=False)
    from foleyzoo.zoo.mmaudio.codec_parity import parity_waveform

    audio = parity_waveform(16000, 1.0, seed=int(metadata["inputs_seed"]))
    with torch.no_grad():
        latents = codec.encode(Waveform(audio[:, None], 16000)).values.transpose(1, 2)
    assert float((latents - expected).abs().max() / expected.abs().max()) <= 1e-4


def test_the_codec_plugin_a_recipe_names_loads_the_same_file(tmp_path, monkeypatch):
    """MMAudioCodec(variant, checkpoint): the codec load_codec gives, built from a recipe's arguments."""
    from foleyzoo.plugins.factory import create
    from foleyzoo.zoo.mmaudio.codec_loader import MMAudioCodec

    config = VAE_CONFIGS["vae_tiny_16k"]
    with safe_open(str(DATA / "mmaudio_codec_vae_tiny_16k.safetensors"), "pt") as stored:
        metadata = stored.metadata()
    shapes = {key: tuple(shape) for key, shape in json.loads(metadata["mmaudio_shapes"]).items()}
    spec = CodecVariant(
        "tiny", "tiny.pth", 16000, 1024, 256, 80, 8000.0, True, config.latent_dim, config.hidden
    )
    monkeypatch.setitem(CODEC_VARIANTS, "tiny", spec)
    entry = {"file": "tiny.pth", "url": "https://example.invalid/tiny.pth", "keys": shapes}
    monkeypatch.setitem(codec_manifest()["codecs"], "tiny", entry)
    path = tmp_path / "tiny.pth"
    torch.save(random_state_dict(shapes, 5), path)
    plugin = create("codecs", "MMAudioCodec", variant="tiny", checkpoint=str(path), verify=False)
    assert isinstance(plugin, MMAudioCodec)
    expected = load_codec(path, "tiny", verify=False).state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in plugin.state_dict().items())
    with pytest.raises(ConfigError, match=r"missing.pth: MMAudio codec tiny weights not found"):
        MMAudioCodec("tiny", checkpoint=str(tmp_path / "missing.pth"))


def test_load_vocoder_gives_mmaudios_output_from_a_v2_folder(tmp_path, monkeypatch):
    """config.json decides the architecture: a tiny width there builds the tiny BigVGAN v2 of the goldens."""
    config = VOCODER_CONFIGS["bigvgan_tiny_44k"]
    with safe_open(str(DATA / "mmaudio_codec_bigvgan_tiny_44k.safetensors"), "pt") as stored:
        metadata, expected = stored.metadata(), stored.get_tensor("vocode")
    shapes = json.loads(metadata["mmaudio_shapes"])
    state = random_state_dict(shapes, int(metadata["weights_seed"]))
    state.update({key: resampling_filter(2, 12) for key in state if key.endswith("filter")})
    folded = {k[: -len("_v")]: tuple(v) for k, v in shapes.items() if k.endswith("weight_v")}
    folded.update({k: tuple(v) for k, v in shapes.items() if not k.endswith(("_g", "_v", "filter"))})
    entry = {**codec_manifest()["vocoders"]["44k"], "keys": folded}
    monkeypatch.setitem(codec_manifest()["vocoders"], "44k", entry)
    folder = v2_folder(tmp_path, state, **config.overrides)
    vocoder = load_vocoder(folder, "44k", verify=False)
    assert vocoder.generator.arch.upsample_initial_channel == 128  # from config.json, not a constant
    from foleyzoo.zoo.mmaudio.codec_parity import parity_mel

    mel = parity_mel(128, 10, seed=int(metadata["inputs_seed"]))
    audio = vocoder.vocode(Mel(mel[:, None], 44100, 44100 / 512)).samples[:, 0]
    assert float((audio - expected).abs().max() / expected.abs().max()) <= 1e-4
    assert torch.equal(load_vocoder(folder / "bigvgan_generator.pt", "44k", verify=False)(mel), vocoder(mel))


def test_load_vocoder_reads_the_16k_file_at_full_size(tmp_path):
    path = tmp_path / "best_netG.pt"
    torch.save({"generator": vocoder_state("16k", device="cpu")}, path)
    vocoder = load_vocoder(path, "16k", verify=False, device="meta")
    assert vocoder.mel_settings.log10 and vocoder.n_mels == 80 and vocoder.hop_length == 256


# ------------------------------------------------------------------ bad input: one clear error


def test_a_vae_of_the_other_size_names_the_file_the_key_and_the_size_it_is(tmp_path):
    path = tmp_path / "v1-44.pth"
    torch.save(vae_state("44k", device="cpu"), path)
    with pytest.raises(ConfigError) as raised:
        load_codec(path, "16k", verify=False)
    message = str(raised.value)
    assert str(path) in message and "not MMAudio's 16k VAE" in message
    assert "first mismatch: key 'data_mean' has shape [1, 128, 1], expected [1, 80, 1]" in message
    assert "the file holds MMAudio's 44k VAE" in message


def test_a_truncated_vae_file_is_refused(tmp_path):
    path = tmp_path / "v1-16.pth"
    torch.save(vae_state("16k", device="cpu"), path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(
        ConfigError, match=r"codec 16k weights: not a readable PyTorch weights file"
    ) as raised:
        load_codec(path, "16k", verify=False)
    assert str(path) in str(raised.value)
    with pytest.raises(ConfigError, match=r"has \d+ bytes, the released v1-16\.pth has 686652758"):
        load_codec(path, "16k")


def test_verification_accepts_the_published_bytes_only(tmp_path, monkeypatch):
    path = tmp_path / "bigvgan_generator.pt"
    path.write_bytes(b"not the released weights")
    entry = codec_manifest()["vocoders"]["44k"]
    monkeypatch.setitem(entry, "size", path.stat().st_size)
    folder = path.parent
    (folder / "config.json").write_text(json.dumps(BIGVGAN_V2_44K_CONFIG))
    with pytest.raises(ConfigError, match=r"vocoder 44k: SHA-256 [0-9a-f]{64} is not the published d9fe7ec6"):
        load_vocoder(folder, "44k")
    earlier = next(iter(entry["other_sha256"]))
    monkeypatch.setitem(
        entry, "other_sha256", {hashlib.sha256(path.read_bytes()).hexdigest(): "a test revision"}
    )
    with pytest.raises(ConfigError, match="not a readable PyTorch weights file"):  # hash accepted, then read
        load_vocoder(folder, "44k")
    assert len(earlier) == 64


def test_a_bigvgan_config_whose_mel_settings_differ_from_the_codecs_is_refused(tmp_path):
    folder = v2_folder(tmp_path, {}, hop_size=256, upsample_rates=[4, 4, 2, 2, 2, 2])
    with pytest.raises(ConfigError) as raised:
        load_vocoder(folder, "44k", verify=False)
    message = str(raised.value)
    assert str(folder / "config.json") in message
    assert "mel settings do not match MMAudio's 44k codec: hop_size is 256, the codec's 512" in message
    (folder / "config.json").write_text(json.dumps({**BIGVGAN_V2_44K_CONFIG, "fmax": 8000}))
    with pytest.raises(ConfigError, match=r"fmax is 8000\.0, the codec's 22050\.0"):
        read_architecture(folder / "config.json", VOCODER_VARIANTS["44k"])
    (folder / "config.json").write_text(json.dumps({**BIGVGAN_V2_44K_CONFIG, "fmax": 22050}))
    assert read_architecture(folder / "config.json", VOCODER_VARIANTS["44k"])["upsample_rates"] == [
        8,
        4,
        2,
        2,
        2,
        2,
    ]


def test_vocoder_files_of_the_wrong_variant_or_layout_are_refused(tmp_path):
    path = tmp_path / "best_netG.pt"
    torch.save({"generator": vocoder_state("16k", device="cpu")}, path)
    folder = tmp_path / "v2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BIGVGAN_V2_44K_CONFIG))
    (folder / "bigvgan_generator.pt").write_bytes(path.read_bytes())
    with pytest.raises(ConfigError) as raised:
        load_vocoder(folder, "44k", verify=False)
    message = str(raised.value)
    assert str(folder / "bigvgan_generator.pt") in message and "not MMAudio's 44k vocoder" in message
    assert "first mismatch: key 'conv_post.bias' is unknown" in message  # v1 has a final bias, v2 none
    assert "the file holds MMAudio's 16k vocoder" in message
    torch.save(vocoder_state("16k", device="cpu"), path)  # a bare state dict, not {"generator": …}
    with pytest.raises(
        ConfigError, match=r"best_netG\.pt: MMAudio vocoder 16k weights: no state dict under 'generator'"
    ):
        load_vocoder(path, "16k", verify=False)
    with pytest.raises(ConfigError, match=r"a folder; MMAudio's 16k vocoder is one file, best_netG\.pt"):
        load_vocoder(folder, "16k", verify=False)
    (folder / "config.json").unlink()
    with pytest.raises(ConfigError, match=r"config\.json: not found; MMAudio's 44k vocoder is a folder"):
        load_vocoder(folder, "44k", verify=False)


def test_a_stored_filter_of_another_design_is_refused(tmp_path):
    state = vocoder_state("16k", device="cpu")
    state["activation_post.upsample.filter"] = torch.full((1, 1, 12), 1 / 12)  # a box filter
    path = tmp_path / "best_netG.pt"
    torch.save({"generator": state}, path)
    with pytest.raises(
        ConfigError, match=r"stored filter 'activation_post\.upsample\.filter' is not the 12-tap"
    ):
        load_vocoder(path, "16k", verify=False, device="meta")


def test_unknown_variants_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown MMAudio codec variant '22k'; known: 16k, 44k"):
        load_codec(tmp_path / "v.pth", "22k")
    with pytest.raises(ConfigError, match=r"not found \(the released file is https://github.com/hkchengrex"):
        load_codec(tmp_path / "v1-16.pth", "16k")
    with pytest.raises(ConfigError, match="unknown MMAudio vocoder variant '22k'"):
        load_vocoder(tmp_path, "22k")
