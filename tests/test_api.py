"""The plugin interfaces: self-contained, validating their records, versioned."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from foleyzoo import api


def test_api_imports_nothing_else_of_foleyzoo():
    code = "import sys, foleyzoo.api; print(sorted(m for m in sys.modules if m.startswith('foleyzoo')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['foleyzoo', 'foleyzoo.api']"


@pytest.mark.parametrize(
    ("required", "compatible"),
    [("1.0", True), (api.API_VERSION, True), ("1.99", False), ("0.9", False), ("2.0", False)],
)
def test_api_version_compatibility(required, compatible):
    assert api.api_version_compatible(required, "1.0") is compatible


def test_records_reject_wrong_shapes_and_masks():
    with pytest.raises(ValueError, match=r"Latents.values must be \(B, T, C\)"):
        api.Latents(torch.zeros(2, 3), frame_rate=43.0)
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        api.Latents(torch.zeros(2, 5, 4), frame_rate=43.0, mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"Video.frames must be \(B, T, 3, H, W\)"):
        api.Video(torch.zeros(1, 4, 1, 8, 8), fps=8.0)
    wave = api.Waveform(torch.zeros(1, 2, 16000), sample_rate=16000)
    assert wave.duration == 1.0
    with pytest.raises(AttributeError):
        wave.sample_rate = 8000  # frozen: records passed between plugins cannot be changed in place


@pytest.mark.parametrize("interface", sorted(set(api.INTERFACE_GROUPS.values()), key=lambda c: c.__name__))
def test_interfaces_are_abstract_and_documented(interface):
    assert interface.__abstractmethods__, f"{interface.__name__} has no abstract method"
    assert interface.__doc__ and interface.__doc__.strip()
    with pytest.raises(TypeError):
        interface()


def test_records_move_like_tensors_in_lightning_batches():
    """Lightning moves any object with ``to``; records must come back as records with moved tensors."""
    from lightning.fabric.utilities.apply_func import move_data_to_device

    text = api.TextFeatures(torch.zeros(1, 3, 4), torch.ones(1, 3, dtype=torch.bool), torch.zeros(1, 4))
    batch = {
        "audio": api.Waveform(torch.zeros(2, 1, 160), 16000),
        "conditions": api.Conditions(text=text, duration=torch.zeros(1, 2)),
    }
    moved = move_data_to_device(batch, torch.device("meta"))
    assert isinstance(moved["audio"], api.Waveform) and moved["audio"].samples.is_meta
    assert moved["audio"].sample_rate == 16000
    assert moved["conditions"].text.tokens.is_meta and moved["conditions"].duration.is_meta
    assert moved["conditions"].text.mask.dtype == torch.bool
    doubled = batch["conditions"].to(torch.float64)
    assert doubled.text.tokens.dtype == torch.float64 and text.tokens.dtype == torch.float32
    assert doubled.text.mask.dtype == torch.bool  # a dtype cast leaves masks alone
