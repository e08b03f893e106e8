"""foleyzoo's Synchformer equals MMAudio's own Synchformer code: output recorded once, compared here.

The golden (tests/zoo/data/mmaudio_sync_reduced.safetensors, written by ``scripts/compare_mmaudio_sync.py
record``) holds what MMAudio's ``encode_video_with_sync`` gave for random weights (official names with the
``vfeat_extractor.`` prefix, drawn from a seed) and frames drawn from a seed, on a reduced network: 64
wide, 2 blocks, 2 heads, still 224 px in 16-px patches and 16-frame segments of 2-frame tubelets; two
clips of 24 frames, two overlapping segments each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.zoo.mmaudio.sync_parity import REDUCED_CONFIG, parity_frames, parity_state, parity_synchformer

GOLDEN = Path(__file__).parent / "data" / "mmaudio_sync_reduced.safetensors"
TOLERANCE = 1e-4  # relative max-abs error in fp32


def test_reduced_synchformer_equals_mmaudios_features() -> None:
    with safe_open(str(GOLDEN), "pt") as stored:
        theirs, metadata = stored.get_tensor("features"), stored.metadata()
    assert json.loads(metadata["config"]) == REDUCED_CONFIG, "the configuration changed since recording"
    state = parity_state(json.loads(metadata["mmaudio_shapes"]), int(metadata["weights_seed"]))
    regenerated = float(sum(state[key].double().abs().sum() for key in sorted(state)))
    assert regenerated == pytest.approx(float(metadata["weights_fingerprint"]), rel=1e-9), (
        "the random weights differ from the recording: re-record with scripts/compare_mmaudio_sync.py record"
    )
    batch, frames, _, size, _ = json.loads(metadata["frames_shape"])
    video = parity_frames(batch, frames, size, int(metadata["inputs_seed"]))
    with torch.no_grad():
        ours = parity_synchformer(REDUCED_CONFIG, state).mmaudio_features(video)
    assert ours.shape == theirs.shape == (2, 16, 64)
    error = float((ours.double() - theirs.double()).abs().max() / theirs.double().abs().max())
    assert error <= TOLERANCE, f"relative max-abs error {error:.3e}"
