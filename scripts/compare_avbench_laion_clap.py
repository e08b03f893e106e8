"""Prove foleyzoo's LAION-CLAP equal to av-benchmark's CLAP path, on seeded random weights.

Runs in an environment with av-benchmark's dependencies and its ``laion_clap`` fork installed, with
foleyzoo's ``src`` and an av-benchmark checkout importable (``AVBENCH_DIR``, default
/work/ref/hkchengrex+av-benchmark):

    PYTHONPATH=src python scripts/compare_avbench_laion_clap.py manifest   # key/shape manifest
    PYTHONPATH=src python scripts/compare_avbench_laion_clap.py record     # writes the golden
    PYTHONPATH=src python scripts/compare_avbench_laion_clap.py compare    # prints relative errors

``roberta-base``'s files cannot be downloaded here, so LAION's ``from_pretrained('roberta-base')`` calls
are answered locally: the tokenizer from a small byte-level stand-in folder, the text tower as a
``RobertaModel`` of roberta-base's configuration (its weights are then replaced by the checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from foleyzoo.api import Waveform
from foleyzoo.embedders.laion_clap import (
    LaionCLAPAudio,
    LaionCLAPText,
    load_laion_clap,
    random_laion_clap_checkpoint,
    write_byte_level_tokenizer,
)
from foleyzoo.embedders.laion_clap.model import MANIFEST, WEIGHTS_FILE
from foleyzoo.embedders.laion_clap.parity import (
    AUDIO_SECONDS,
    CAPTIONS,
    CLIPS,
    SEED,
    fingerprint,
    load_like_avbench,
    write_clips,
)
from foleyzoo.zoo.testing import relative_error

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "metrics" / "data" / "avbench_laion_clap.safetensors"


def _answer_roberta_locally(tokenizer_dir: Path) -> None:
    """Make LAION's hub look-ups for roberta-base (and its unused BERT/BART tokenizers) resolve offline."""
    import transformers
    from transformers import RobertaConfig, RobertaModel

    local = transformers.RobertaTokenizer.from_pretrained.__func__

    def tokenizer(cls, name, *args, **kwargs):
        return local(cls, str(tokenizer_dir), local_files_only=True)

    transformers.BertTokenizer.from_pretrained = classmethod(lambda cls, *a, **k: None)
    transformers.BartTokenizer.from_pretrained = classmethod(lambda cls, *a, **k: None)
    transformers.RobertaTokenizer.from_pretrained = classmethod(
        tokenizer
    )  # last: BART's may be the same class
    base = RobertaConfig(
        vocab_size=50265,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    RobertaModel.from_pretrained = classmethod(lambda cls, *a, **k: RobertaModel(base))


def _original(checkpoint: Path | None, tokenizer_dir: Path):
    """av-benchmark's ``laion_clap.CLAP_Module(enable_fusion=False, amodel='HTSAT-base')`` + ``load_ckpt``."""
    _answer_roberta_locally(tokenizer_dir)
    import laion_clap

    model = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-base", device="cpu").eval()
    if checkpoint is not None:
        model.load_ckpt(str(checkpoint), verbose=False)
    return model


def _write_manifest(tokenizer_dir: Path) -> None:
    model = _original(None, tokenizer_dir)
    shapes = {key: list(value.shape) for key, value in model.model.state_dict().items()}
    note = (
        f"Keys and shapes of LAION-CLAP HTSAT-base/roberta ({WEIGHTS_FILE}) as laion_clap's CLAP model holds them; "
        "the file stores them under 'state_dict' with a 'module.' prefix, plus text_branch.embeddings.position_ids."
    )
    MANIFEST.write_text(json.dumps({"note": note, "shapes": shapes}, indent=1) + "\n")
    print(f"{len(shapes)} keys → {MANIFEST}")


@torch.inference_mode()
def _run_original(model, paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """av-benchmark's extract.py CLAP step (AudioDataset at 48 kHz, 8 s) and extract_text.py's per caption."""
    from torch.utils.data import DataLoader

    sys.path.insert(0, os.environ.get("AVBENCH_DIR", "/work/ref/hkchengrex+av-benchmark"))
    from av_bench.data.audio_dataset import AudioDataset

    dataset = AudioDataset(paths, audio_length=AUDIO_SECONDS, sr=48_000)
    audio = []
    for wav, _ in DataLoader(dataset, batch_size=1, num_workers=0):  # clips differ in length
        wav = wav.squeeze(1)
        audio.append(model.get_audio_embedding_from_data(wav, use_tensor=True).cpu()[0])
    text, ids, masks = [], [], []
    for caption in CAPTIONS:
        text.append(model.get_text_embedding([caption], use_tensor=True).cpu().squeeze())
        tokens = model.tokenizer([caption])
        ids.append(tokens["input_ids"][0])
        masks.append(tokens["attention_mask"][0])
    return torch.stack(audio), torch.stack(text), torch.stack(ids), torch.stack(masks)


@torch.no_grad()
def _run_foleyzoo(
    checkpoint: Path, paths: list[Path], tokenizer_dir: Path
) -> tuple[torch.Tensor, torch.Tensor]:
    model = load_laion_clap(checkpoint)
    audio_embedder = LaionCLAPAudio(str(checkpoint), model=model)
    text_embedder = LaionCLAPText(str(checkpoint), tokenizer=str(tokenizer_dir), model=model)
    audio = [
        audio_embedder.embed(Waveform(samples=load_like_avbench(p)[None, None], sample_rate=48_000)).values[0]
        for p in paths
    ]
    return torch.stack(audio), text_embedder.embed(list(CAPTIONS)).values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["manifest", "record", "compare"])
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer_dir = write_byte_level_tokenizer(Path(tmp) / "tokenizer")
        if args.command == "manifest":
            _write_manifest(tokenizer_dir)
            return
        container = random_laion_clap_checkpoint(SEED)
        checkpoint = Path(tmp) / WEIGHTS_FILE
        torch.save(container, checkpoint)
        paths = write_clips(Path(tmp) / "clips")
        audio, text, ids, masks = _run_original(_original(checkpoint, tokenizer_dir), paths)
        ours_audio, ours_text = _run_foleyzoo(checkpoint, paths, tokenizer_dir)
        print(f"audio: relative error {relative_error(ours_audio, audio):.3e} over {len(paths)} clips")
        print(f"text:  relative error {relative_error(ours_text, text):.3e} over {len(CAPTIONS)} captions")
        for name, ours, theirs in (("audio", ours_audio, audio), ("text", ours_text, text)):
            centred = relative_error(ours - ours.mean(0), theirs - theirs.mean(0))
            print(f"{name}: relative error of the per-item deviations from the mean {centred:.3e}")
        if args.command == "record":
            from safetensors.torch import save_file

            tensors = {
                "audio_embeddings": audio.float().contiguous(),
                "text_embeddings": text.float().contiguous(),
                "text_input_ids": ids.long().contiguous(),
                "text_attention_mask": masks.long().contiguous(),
                "seed": torch.tensor(SEED),
                "weights_fingerprint": fingerprint(container["state_dict"]),
            }
            metadata = {
                "clips": json.dumps([spec.__dict__ for spec in CLIPS]),
                "captions": json.dumps(list(CAPTIONS)),
                "clip_order": json.dumps([p.stem for p in paths]),
            }
            GOLDEN.parent.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(GOLDEN), metadata=metadata)
            print(f"golden → {GOLDEN} ({GOLDEN.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
