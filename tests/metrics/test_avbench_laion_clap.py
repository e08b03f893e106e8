"""foleyzoo's LAION-CLAP equals av-benchmark's ``laion_clap`` path: embeddings recorded once, compared here.

The golden (tests/metrics/data/avbench_laion_clap.safetensors, written by
``scripts/compare_avbench_laion_clap.py record``) holds what av-benchmark's CLAP step gave — its
``AudioDataset`` at 48 kHz cut to 8 s, then ``get_audio_embedding_from_data(x, use_tensor=True)``, and
``get_text_embedding([caption], use_tensor=True)`` — for the full HTSAT-base/RoBERTa network with seeded
random weights in the published container, four synthetic wav files and three captions. Captions were
tokenized with a byte-level stand-in for roberta-base's vocabulary; the recorded token ids are fed too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from foleyzoo.api import Waveform
from foleyzoo.embedders.laion_clap import (
    LaionCLAPAudio,
    LaionCLAPText,
    htsat_base_config,
    laion_to_transformers,
    load_laion_clap,
    official_shapes,
    random_laion_clap_checkpoint,
    repeat_pad,
    write_byte_level_tokenizer,
)
from foleyzoo.embedders.laion_clap.model import WEIGHTS_FILE, WEIGHTS_URL, _LogMel
from foleyzoo.embedders.laion_clap.parity import (
    CAPTIONS,
    CLIPS,
    SEED,
    fingerprint,
    load_like_avbench,
    write_clips,
)
from foleyzoo.errors import ConfigError
from foleyzoo.zoo.testing import relative_error

GOLDEN = Path(__file__).parent / "data" / "avbench_laion_clap.safetensors"
TOLERANCE = 1e-4  # relative max-abs error in fp32


def _golden() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(GOLDEN), "pt") as stored:
        names = list(stored.keys())
        return {key: stored.get_tensor(key) for key in names}, stored.metadata()


def test_missing_file_names_it_and_where_it_is_published(tmp_path: Path) -> None:
    path = tmp_path / WEIGHTS_FILE
    with pytest.raises(ConfigError, match="not found") as info:
        LaionCLAPAudio(str(path))
    assert str(path) in str(info.value) and WEIGHTS_URL in str(info.value)


def test_file_of_another_model_is_refused_with_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"module.encoder.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(ConfigError, match="missing keys") as info:
        LaionCLAPText(str(path))
    assert str(path) in str(info.value) and "encoder.weight" in str(info.value)


def test_manifest_converts_onto_the_modules_own_state_dict() -> None:
    from transformers import ClapModel

    with torch.device("meta"):
        shapes = official_shapes()
        state = {key: torch.empty(shape) for key, shape in shapes.items()}
        front, clap = laion_to_transformers(state)
        own = ClapModel(htsat_base_config()).state_dict()
    assert {k: list(v.shape) for k, v in clap.items()} == {k: list(v.shape) for k, v in own.items()}
    assert {k: list(v.shape) for k, v in front.items()} == {
        k: list(v.shape) for k, v in _LogMel().state_dict().items()
    }
    assert len(shapes) == 504


def test_repeat_pad_repeats_whole_copies_then_zero_pads() -> None:
    audio = torch.arange(1.0, 4.0)
    assert repeat_pad(audio, 8).tolist() == [1, 2, 3, 1, 2, 3, 0, 0]
    assert repeat_pad(torch.arange(10.0), 8).tolist() == list(range(8))


def test_golden_records_the_cases_in_use() -> None:
    _, metadata = _golden()
    assert json.loads(metadata["clips"]) == [spec.__dict__ for spec in CLIPS]
    assert json.loads(metadata["captions"]) == list(CAPTIONS)


@pytest.mark.slow
def test_laion_clap_equals_avbench_on_seeded_weights(tmp_path: Path) -> None:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    golden, metadata = _golden()
    container = random_laion_clap_checkpoint(int(golden["seed"]))
    assert int(golden["seed"]) == SEED
    assert float(fingerprint(container["state_dict"])) == pytest.approx(
        float(golden["weights_fingerprint"]), rel=1e-12
    ), "the random weights differ from the recording: re-record with scripts/compare_avbench_laion_clap.py"
    checkpoint = tmp_path / WEIGHTS_FILE
    torch.save(container, checkpoint)
    del container
    model = load_laion_clap(checkpoint)

    paths = write_clips(tmp_path / "clips")
    assert [p.stem for p in paths] == json.loads(metadata["clip_order"])
    audio = LaionCLAPAudio(str(checkpoint), model=model)
    ours = torch.stack(
        [
            audio.embed(Waveform(samples=load_like_avbench(p)[None, None], sample_rate=48_000)).values[0]
            for p in paths
        ]
    )
    assert ours.shape == (len(CLIPS), 512)
    error = relative_error(ours, golden["audio_embeddings"])
    assert error <= TOLERANCE, f"audio: relative max-abs error {error:.3e}"
    theirs_audio = golden["audio_embeddings"]
    centred = relative_error(ours - ours.mean(0), theirs_audio - theirs_audio.mean(0))
    assert centred <= TOLERANCE, f"audio: the clips' differences disagree ({centred:.3e})"

    tokenizer = write_byte_level_tokenizer(tmp_path / "tokenizer")
    text = LaionCLAPText(str(checkpoint), tokenizer=str(tokenizer), model=model)
    ids, mask = text.tokenize(list(CAPTIONS))
    assert torch.equal(ids, golden["text_input_ids"]) and torch.equal(mask, golden["text_attention_mask"])
    theirs = golden["text_embeddings"]
    ours_text = text.embed_tokens(golden["text_input_ids"], golden["text_attention_mask"]).values
    assert relative_error(ours_text, theirs) <= TOLERANCE
    centred = relative_error(ours_text - ours_text.mean(0), theirs - theirs.mean(0))
    assert centred <= TOLERANCE, f"text: the captions' differences disagree ({centred:.3e})"
