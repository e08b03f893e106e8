"""foleyzoo's PaSST equals av-benchmark's PaSST step: outputs recorded once with the original code, compared here.

The golden (tests/metrics/data/avbench_passt.safetensors, written by ``scripts/compare_avbench_passt.py
record``) holds the embeddings and logits that av-benchmark's ``AudioDataset`` (32 kHz, 8 s) and
``hear21passt``'s ``get_basic_model(mode="all")`` gave for seeded random weights in the published
file's layout, on synthetic wav files drawn from a seed (DC offsets, stereo, 16/32/44.1/48 kHz, 7 s and
10 s). The network is the full-size one av-benchmark fixes; the cheap tests cover the loader's errors
and the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.api import Waveform
from foleyzoo.data.audio import resample
from foleyzoo.embedders.passt import (
    PaSST,
    PaSSTMel,
    PaSSTNetwork,
    kaldi_mel_banks,
    passt_random_state,
    passt_window,
)
from foleyzoo.embedders.passt.parity import ClipSpec, load_like_avbench, write_clips
from foleyzoo.errors import ConfigError

GOLDEN = Path(__file__).parent / "data" / "avbench_passt.safetensors"
TOLERANCE = 1e-4  # relative max-abs error, fp32


def _relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours.double() - theirs.double()).abs().max() / theirs.double().abs().max())


@pytest.mark.slow
def test_passt_equals_avbench_on_recorded_clips(tmp_path: Path) -> None:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    with safe_open(str(GOLDEN), "pt") as stored:
        embeddings, logits, metadata = (
            stored.get_tensor("embeddings"),
            stored.get_tensor("logits"),
            stored.metadata(),
        )
    state = passt_random_state(int(metadata["weights_seed"]))
    regenerated = float(sum(state[key].double().abs().sum() for key in sorted(state)))
    assert regenerated == pytest.approx(float(metadata["weights_fingerprint"]), rel=1e-9), (
        "the random weights differ from the recording: re-record with scripts/compare_avbench_passt.py record"
    )
    weights = tmp_path / PaSST.weights_file
    torch.save(state, weights)  # the published container: a flat state dict of the network
    embedder = PaSST(str(weights))

    specs = [ClipSpec(**{**spec, "dc": tuple(spec["dc"])}) for spec in json.loads(metadata["clips"])]
    paths = write_clips(tmp_path / "clips", int(metadata["clips_seed"]), specs)
    seconds = float(metadata["eval_seconds"])
    audio = [load_like_avbench(path, PaSST.sample_rate, seconds) for path in paths]
    assert [clip.shape[-1] for clip in audio] == json.loads(metadata["loaded_lengths"])
    outputs = [embedder.embed(Waveform(clip[None], PaSST.sample_rate)) for clip in audio]
    ours_embeddings = torch.cat([output.values for output in outputs])
    ours_logits = torch.cat([output.logits for output in outputs if output.logits is not None])
    assert ours_embeddings.shape == embeddings.shape == (len(specs), 768)
    assert ours_logits.shape == logits.shape == (len(specs), 527)
    assert _relative(ours_embeddings, embeddings) <= TOLERANCE
    assert _relative(ours_logits, logits) <= TOLERANCE


def test_manifest_matches_the_network() -> None:
    shapes = {key: list(value.shape) for key, value in PaSSTNetwork().state_dict().items()}
    assert shapes == PaSST.official_shapes()
    assert len(shapes) == 159 and shapes["time_new_pos_embed"] == [1, 768, 1, 99]
    assert not PaSSTMel().state_dict(), "the front end holds no checkpoint state"


def test_missing_file_names_it_and_where_it_is_published(tmp_path: Path) -> None:
    missing = tmp_path / PaSST.weights_file
    with pytest.raises(ConfigError) as caught:
        PaSST(str(missing))
    assert str(missing) in str(caught.value)
    assert PaSST.weights_url in str(caught.value)


def test_file_of_another_model_is_refused_with_its_keys(tmp_path: Path) -> None:
    other = tmp_path / "cnn14.pth"
    torch.save({"fc1.weight": torch.zeros(4, 4), "fc_audioset.bias": torch.zeros(4)}, other)
    with pytest.raises(ConfigError) as caught:
        PaSST(str(other))
    message = str(caught.value)
    assert str(other) in message and "unexpected fc1.weight" in message and "missing blocks.0." in message


def test_front_end_gives_1000_frames_of_128_bands() -> None:
    banks = kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0)
    assert banks.shape == (128, 513) and float(banks[:, -1].abs().max()) == 0.0
    assert float(banks.max()) <= 1.0 and bool((banks.sum(dim=1) > 0).all())
    mel = PaSSTMel()(torch.zeros(2, 320000))
    assert mel.shape == (2, 128, 1000)
    assert torch.allclose(mel, torch.full_like(mel, (torch.log(torch.tensor(1e-5)).item() + 4.5) / 5))


def test_embed_mixes_resamples_and_pads_other_inputs() -> None:
    """A stereo 16 kHz input is mixed to mono and resampled to 32 kHz rather than refused, then padded to 10 s."""
    stereo = Waveform(0.1 * torch.randn(2, 2, 1600, generator=torch.Generator().manual_seed(0)), 16000)
    window = passt_window(stereo)
    expected = resample(stereo.samples.mean(dim=1), 16000, 32000)
    assert window.shape == (2, 320000) and window.dtype == torch.float32
    assert torch.allclose(window[:, :3200], expected, atol=1e-6) and not window[:, 3200:].any()
    long = Waveform(torch.ones(1, 1, 400000), 32000)
    assert passt_window(long).shape == (1, 320000)
