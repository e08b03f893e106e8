"""Tiny pretrained-encoder checkpoints built here: random weights in the real formats, and their tokenizers.

Shared by the encoder tests and the plugin conformance tests, which build small instances of the
pretrained encoders from them (nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path

from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPImageProcessor, CLIPTokenizer, T5Config, T5ForConditionalGeneration, T5Tokenizer

# a vision tower of 32 × 32 px images in 8 × 8 px patches (CLIP, MetaCLIP 2 and SigLIP take it)
VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=32,
    patch_size=8,
)
# a text tower (BERT, or the text half of a CLIP image-text model) with its own small vocabulary
TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    vocab_size=64,
    max_position_embeddings=16,
)
# a CLIP text tower whose token ids are those of clip_tokenizer()
CLIP_TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=16,
    bos_token_id=0,
    eos_token_id=1,
    pad_token_id=1,
)
# timm ViT keyword arguments: 32 × 32 px input, 8 × 8 px patches
VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
WORDS = [
    "a",
    "bell",
    "ringing",
    "wooden",
    "knock",
    "and",
    "glass",
    "clink",
    "the",
    "dog",
    "barks",
    "at",
    "door",
]


def clip_processor(**overrides) -> CLIPImageProcessor:
    return CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, **overrides)


def save(directory: Path, model, processor=None) -> Path:
    """``model`` and its image processor or tokenizer (when given) saved to ``directory``, which is returned."""
    model.save_pretrained(directory)
    if processor is not None:
        processor.save_pretrained(directory)
    return directory


def t5_tokenizer() -> T5Tokenizer:
    """A T5 unigram tokenizer over a few words and single letters (anything else is <unk>)."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(f"▁{word}", -1.0) for word in WORDS] + [
        (letter, -5.0) for letter in "abcdefghijklmnopqrstuvwxyz"
    ]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_t5() -> tuple[T5ForConditionalGeneration, T5Tokenizer]:
    """An encoder-decoder T5 (as t5-base ships), in eval mode, and its tokenizer."""
    tokenizer = t5_tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config).eval(), tokenizer


def clip_tokenizer() -> CLIPTokenizer:
    """A CLIP byte-level BPE tokenizer with no merges: one token a byte (and an end-of-word form of each)."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(ByteLevel.alphabet()):
        vocab[char] = len(vocab)
        vocab[f"{char}</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


def save_clip(directory: Path, model) -> Path:
    """A CLIP (text) model saved with clip_tokenizer() to ``directory``, which is returned."""
    model.save_pretrained(directory)
    clip_tokenizer().save_pretrained(directory)
    return directory


# an open_clip CLIP (QuickGELU, as MMAudio's DFN5B) of 32 × 32 px images in 8 × 8 px patches, CLIP's own
# 49,408-token vocabulary (open_clip's bundled tokenizer), in a folder laid out as a hub snapshot
OPEN_CLIP = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def save_open_clip(folder: Path, model_cfg: dict | None = None, seed: int = 0) -> Path:
    """``open_clip_config.json`` and random weights (``open_clip_model.safetensors``) of ``model_cfg``."""
    import json

    import open_clip
    from safetensors.torch import save_file

    from foleyzoo.zoo.testing import random_state_dict

    model_cfg = OPEN_CLIP if model_cfg is None else model_cfg
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    shapes = {
        key: tuple(value.shape) for key, value in open_clip.model.CLIP(**model_cfg).state_dict().items()
    }
    save_file(random_state_dict(shapes, seed), str(folder / "open_clip_model.safetensors"))
    return folder
