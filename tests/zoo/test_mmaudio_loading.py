"""Loading MMAudio's released files: the manifest, the key table, and a clear refusal of anything else.

Full-size variants are built on the meta device only; files are written with stride-0 tensors (one
stored element each), so a "full-size" state dict costs kilobytes.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from foleyzoo.api import Denoiser
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.mmaudio import VARIANTS, MMAudioDenoiser, MMAudioVariant, load_denoiser
from foleyzoo.zoo.mmaudio.convert import DROPPED_KEYS, convert_state_dict, foleyzoo_key, name_table
from foleyzoo.zoo.mmaudio.loader import build_denoiser, verify_file
from foleyzoo.zoo.mmaudio.manifest import keys_mismatch, manifest, matching_variants, released_file
from foleyzoo.zoo.mmaudio.parity import CONFIGS, parity_conditions, parity_inputs
from foleyzoo.zoo.testing import random_state_dict

DATA = Path(__file__).parent / "data"


def synthetic_state(variant: str, device: str = "meta") -> dict[str, torch.Tensor]:
    """A state dict with every key and shape the manifest lists for ``variant`` (meta, or stride-0 on CPU)."""
    keys = released_file(variant).keys
    if device == "meta":
        return {key: torch.empty(shape, device="meta") for key, shape in keys.items()}
    return {key: torch.full((1,), 0.5).expand(shape) for key, shape in keys.items()}


def save(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_built_on_meta_matches_its_released_file(variant):
    """The network's parameters are exactly the manifest's keys, renamed by the table and reshaped."""
    with torch.device("meta"):
        model = MMAudioDenoiser.from_variant(variant)
    ours = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    keys = released_file(variant).keys
    renamed = {foleyzoo_key(key): shape for key, shape in keys.items()}
    assert set(renamed) == set(ours)
    for key, shape in renamed.items():
        assert torch.Size(shape).numel() == torch.Size(ours[key]).numel(), key
        assert shape == ours[key] or key in {
            "sync_positions",
            "empty_clip",
            "empty_sync",
            "latent_mean",
            "latent_std",
        }


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_synthetic_state_dict_from_the_manifest_loads_strictly(variant):
    model = build_denoiser(synthetic_state(variant), variant, device="meta")
    assert isinstance(model, Denoiser) and not model.training
    assert model.latent_dim == VARIANTS[variant].latent_dim
    assert (
        len(model.joint) == VARIANTS[variant].joint_blocks
        and len(model.single) == VARIANTS[variant].single_blocks
    )


def test_the_manifest_tells_every_variant_apart():
    for variant in VARIANTS:
        shapes = {key: value.shape for key, value in synthetic_state(variant).items()}
        assert matching_variants(shapes) == [variant]


def test_the_manifest_records_the_published_files():
    files = manifest()["files"]
    assert set(files) == set(VARIANTS)
    for variant, entry in files.items():
        assert entry["file"] == f"mmaudio_{variant}.pth" and entry["url"].endswith(entry["file"])
        assert len(entry["sha256"]) == 64 and len(entry["md5"]) == 32 and entry["size"] > 6e8
    assert manifest()["licence"] == {"code": "MIT", "weights": "CC-BY-NC-4.0"}


def test_load_denoiser_reads_a_released_layout_file(tmp_path):
    """The public loader, on a file as MMAudio releases it (plain state dict, with the buffers it drops)."""
    state = synthetic_state("small_16k", device="cpu")
    state["latent_rot"] = torch.zeros(1, 250, 32, 2, 2)  # older files store derived buffers
    state["t_embed.freqs"] = torch.zeros(128)
    path = save(state, tmp_path / "mmaudio_small_16k.pth")
    model = load_denoiser(path, "small_16k", verify=False, device="meta")  # full size: shapes only
    assert isinstance(model, MMAudioDenoiser) and not model.training
    assert model.latent_std.shape == (20,) and model.empty_text.shape == (77, 1024)
    assert not model.empty_text.requires_grad and model.empty_clip.requires_grad


def test_load_denoiser_gives_mmaudios_output(tmp_path, monkeypatch):
    """File → checks → key table → network: a tiny variant (registered for the test) equals MMAudio's recording."""
    golden = load_file(str(DATA / "mmaudio_tiny_v1_16k.safetensors"))
    with safe_open(str(DATA / "mmaudio_tiny_v1_16k.safetensors"), "pt") as stored:
        metadata = stored.metadata()
    shapes = {key: tuple(shape) for key, shape in json.loads(metadata["mmaudio_shapes"]).items()}
    config = CONFIGS["tiny_v1_16k"]
    sizes = ("latent_dim", "hidden", "heads", "joint_blocks", "single_blocks", "sample_rate", "clip_dim")
    sizes += ("sync_dim", "text_dim", "text_tokens")
    spec = MMAudioVariant(name="tiny_v1_16k", hop=256, **{name: getattr(config, name) for name in sizes})
    monkeypatch.setitem(VARIANTS, spec.name, spec)
    entry = {"file": "tiny.pth", "url": "https://example.invalid/tiny.pth", "keys": shapes}
    monkeypatch.setitem(manifest()["files"], spec.name, entry)
    path = save(random_state_dict(shapes, int(metadata["weights_seed"])), tmp_path / "tiny.pth")
    model = load_denoiser(path, "tiny_v1_16k", verify=False)
    inputs = parity_inputs(config, 8.0, seed=int(metadata["inputs_seed"]))
    with torch.no_grad():
        output = model(inputs.x, inputs.t, parity_conditions(inputs, "rows"))
    expected = golden["forward/8/rows"]
    assert float((output - expected).abs().max() / expected.abs().max()) <= 1e-4


def test_wrong_variant_names_the_file_the_key_and_the_right_variant(tmp_path):
    path = save(synthetic_state("large_44k", device="cpu"), tmp_path / "weights.pth")
    with pytest.raises(ConfigError) as raised:
        load_denoiser(path, "large_44k_v2", verify=False)
    message = str(raised.value)
    assert str(path) in message and "large_44k_v2" in message
    assert "first mismatch: key 'clip_input_proj.1.w1.weight' is unknown" in message  # v2 adds a SiLU
    assert "holds MMAudio large_44k weights" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("unknown", "key 'aaa.unexpected' is unknown"),
        ("missing", "key 'audio_input_proj.0.bias' is missing"),
        ("reshaped", "key 'clip_cond_proj.weight' has shape [448, 447], expected [448, 448]"),
    ],
)
def test_unknown_missing_or_reshaped_keys_are_refused_before_building(tmp_path, change, expected):
    state = synthetic_state("small_16k", device="cpu")
    if change == "unknown":
        state["aaa.unexpected"] = torch.zeros(3)
    elif change == "missing":
        del state["audio_input_proj.0.bias"]
    else:
        state["clip_cond_proj.weight"] = torch.zeros(448, 447)
    path = save(state, tmp_path / "mine.pth")
    with pytest.raises(ConfigError, match="small_16k") as raised:
        load_denoiser(path, "small_16k", verify=False)
    assert str(path) in str(raised.value) and expected in str(raised.value)


def test_a_truncated_file_is_refused(tmp_path):
    path = save(synthetic_state("small_16k", device="cpu"), tmp_path / "mmaudio_small_16k.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match=r"small_16k.*not a readable PyTorch weights file"):
        load_denoiser(path, "small_16k", verify=False)
    with pytest.raises(ConfigError, match=r"has \d+ bytes, the released mmaudio_small_16k.pth has 629395261"):
        load_denoiser(path, "small_16k")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"weights": {"a": torch.zeros(1)}}, "key 'weights' holds a dict"),
        ([torch.zeros(1)], "found list"),
        ({}, "found dict"),
    ],
)
def test_a_pickle_that_is_not_a_plain_state_dict_is_refused(tmp_path, stored, expected):
    path = save(stored, tmp_path / "odd.pth")
    with pytest.raises(ConfigError, match="not a plain state dict") as raised:
        load_denoiser(path, "small_44k", verify=False)
    assert (
        str(path) in str(raised.value) and "small_44k" in str(raised.value) and expected in str(raised.value)
    )


class _Payload:
    """Unpickling this would create the marker file: the loader must refuse before that happens."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_nothing_in_the_file_is_executed(tmp_path):
    payload = _Payload()
    payload.marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    with path.open("wb") as stream:
        pickle.dump({"x": payload}, stream, protocol=2)
    with pytest.raises(ConfigError, match="not a readable PyTorch weights file"):
        load_denoiser(path, "small_16k", verify=False)
    assert not payload.marker.exists()


def test_verification_checks_size_then_sha256(tmp_path, monkeypatch):
    """verify=True refuses a file whose bytes are not the published ones; warns where nothing is published."""
    path = tmp_path / "mmaudio_small_16k.pth"
    path.write_bytes(b"not the released weights")
    entry = manifest()["files"]["small_16k"]
    monkeypatch.setitem(entry, "size", path.stat().st_size)
    with pytest.raises(ConfigError, match=r"small_16k: SHA-256 [0-9a-f]{64} is not the published 61987bcb"):
        load_denoiser(path, "small_16k")
    monkeypatch.setitem(entry, "sha256", hashlib.sha256(path.read_bytes()).hexdigest())
    verify_file(path, released_file("small_16k"))  # the published bytes: accepted
    monkeypatch.setitem(entry, "sha256", None)
    monkeypatch.setitem(entry, "size", None)
    with pytest.warns(UserWarning) as warned:
        verify_file(path, released_file("small_16k"))
    messages = " | ".join(str(warning.message) for warning in warned)
    assert "no published size" in messages and "no published SHA-256" in messages


def test_missing_file_and_unknown_variant(tmp_path):
    with pytest.raises(ConfigError, match=r"not found.*huggingface.co/hkchengrex/MMAudio"):
        load_denoiser(tmp_path / "absent.pth", "small_16k")
    with pytest.raises(ConfigError, match="unknown MMAudio variant 'tiny'; known: small_16k"):
        load_denoiser(tmp_path / "absent.pth", "tiny")


def test_key_table_renames_every_part_and_drops_derived_buffers():
    assert foleyzoo_key("joint_blocks.3.clip_block.attn.qkv.weight") == "joint.3.layers.1.qkv.weight"
    assert foleyzoo_key("fused_blocks.7.ffn.w2.weight") == "single.7.layers.mlp.w2.weight"
    assert foleyzoo_key("joint_blocks.0.text_block.linear1.bias") == "joint.0.layers.2.out.bias"
    assert foleyzoo_key("final_layer.adaLN_modulation.1.weight") == "final.modulation.weight"
    assert foleyzoo_key("t_embed.mlp.2.bias") == "time_embed.2.bias"
    assert foleyzoo_key("empty_string_feat") == "empty_text"
    assert all(foleyzoo_key(key) is None for key in DROPPED_KEYS)
    with pytest.raises(KeyError, match="no foleyzoo name"):
        foleyzoo_key("joint_blocks.0.latent_block.something.weight")


def test_qkv_rows_are_reordered_per_head_and_rotary_pair():
    """MMAudio's row (head h, dim d, j ∈ q/k/v) lands at foleyzoo's (j, h, d'), d' the half-split place of d."""
    heads, head_dim = 2, 4
    rows = torch.arange(3 * heads * head_dim, dtype=torch.float32)  # row r holds r
    state = {"fused_blocks.0.attn.qkv.bias": rows, "fused_blocks.0.attn.q_norm.weight": torch.arange(4.0)}
    converted = convert_state_dict(state, heads)
    bias = converted["single.0.layers.qkv.bias"].view(3, heads, head_dim)
    order = [0, 2, 1, 3]  # interleaved pairs (0,1), (2,3) → halves (0, 2 | 1, 3)
    for j in range(3):
        for h in range(heads):
            dims = order if j < 2 else range(head_dim)
            expected = [h * head_dim * 3 + d * 3 + j for d in dims]
            assert bias[j, h].tolist() == expected
    assert converted["single.0.layers.q_norm.weight"].tolist() == [0.0, 2.0, 1.0, 3.0]


def test_keys_mismatch_is_none_for_an_exact_match_and_ignores_dropped_keys():
    entry = released_file("medium_44k")
    shapes = dict(entry.keys)
    assert keys_mismatch(shapes, entry) is None
    assert keys_mismatch({**shapes, "clip_rot": (1, 2, 3)}, entry) is None


def test_the_docs_show_the_key_table():
    page = (Path(__file__).parents[2] / "docs" / "pretrained.md").read_text()
    for source, target in name_table():
        assert f"| `{source}` |" in page and (target == "(dropped)" or f"`{target}` |" in page), source
