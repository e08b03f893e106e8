"""LAION-CLAP (HTSAT-base audio, RoBERTa text) from the published ``.pt`` file: av-benchmark's CLAP score embedders.

The LAION checkpoint is converted on load into transformers' :class:`~transformers.ClapModel` (which
implements the same HTSAT and RoBERTa towers); the audio front end (torchlibrosa's STFT as two frozen
convolutions and a Slaney mel bank, both stored in the file) runs here, so the log-mel equals LAION's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import resample, to_mono
from foleyzoo.embedders.panns import _LogmelFilterBank, _Spectrogram, slaney_mel_filterbank
from foleyzoo.encoders.pretrained import freeze_module
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import read_weights

__all__ = [
    "LaionCLAPAudio",
    "LaionCLAPText",
    "LaionClap",
    "htsat_base_config",
    "laion_to_transformers",
    "load_laion_clap",
    "official_shapes",
    "random_laion_clap_checkpoint",
    "repeat_pad",
    "write_byte_level_tokenizer",
]

WEIGHTS_FILE = "music_speech_audioset_epoch_15_esc_89.98.pt"
WEIGHTS_URL = f"https://huggingface.co/lukewys/laion_clap/resolve/main/{WEIGHTS_FILE}"
WEIGHTS_LICENCE = "CC0-1.0 (LAION-CLAP code and checkpoints)"
SAMPLE_RATE = 48_000
CLIP_SAMPLES = 480_000
"""HTSAT's input: 10 s at 48 kHz; shorter audio is repeated whole, then zero-padded up to it."""
TEXT_TOKENS = 77
"""Captions are padded or truncated to this many RoBERTa tokens (LAION-CLAP's tokenizer call)."""
MANIFEST = Path(__file__).parent.parent / "manifests" / "laion_clap.json"
_OPTIONAL_KEYS = ("text_branch.embeddings.position_ids",)  # saved by older transformers; LAION drops it
_UNUSED_PREFIXES = ("audio_transform.", "text_transform.", "audio_branch.head.", "audio_branch.tscam_conv.")
_FRONT_END_PREFIXES = ("audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.")
_PROJECTION_LAYERS = {"0": "linear1", "2": "linear2"}  # LAION's Sequential(Linear, ReLU, Linear) indices
_WINDOW, _SHIFT, _GRID = 8, 4, 64  # Swin window, shift of every second block, patch grid of stage 0
_DEPTHS = (2, 2, 12, 2)


def htsat_base_config() -> Any:
    """transformers' ClapConfig of LAION's ``HTSAT-base`` + ``roberta-base`` (no fusion, 512-d joint space)."""
    from transformers import ClapConfig

    return ClapConfig(
        text_config={"layer_norm_eps": 1e-5},  # roberta-base's, not ClapTextConfig's 1e-12 default
        audio_config={"depths": list(_DEPTHS), "patch_embeds_hidden_size": 128, "hidden_size": 1024},
    )


def official_shapes() -> dict[str, list[int]]:
    """Key → shape of the LAION model's state dict (without the ``module.`` prefix the file carries)."""
    return {key: list(shape) for key, shape in json.loads(MANIFEST.read_text())["shapes"].items()}


def repeat_pad(audio: Tensor, length: int = CLIP_SAMPLES) -> Tensor:
    """(N,) → (length,): repeated ⌊length / N⌋ times and zero-padded (LAION's ``repeatpad``); longer audio is cut."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    repeated = audio.repeat(length // audio.shape[-1])
    return F.pad(repeated, (0, length - repeated.shape[-1]))


class _LogMel(nn.Module):
    """HTSAT's front end: (B, N) 48 kHz → (B, 1, T, 64) log-mel in dB (n_fft 1024, hop 480, 50 Hz–14 kHz)."""

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram_extractor = _Spectrogram(1024, 480)
        self.logmel_extractor = _LogmelFilterBank(SAMPLE_RATE, 1024, 64, 50.0, 14000.0)

    def forward(self, audio: Tensor) -> Tensor:
        return self.logmel_extractor(self.spectrogram_extractor(audio))


def _rename_audio_block(rest: str) -> str:
    """A Swin block's LAION parameter name (after ``blocks.j.``) → transformers' ClapAudioLayer name."""
    for old, new in (
        ("norm1.", "layernorm_before."),
        ("norm2.", "layernorm_after."),
        ("attn.proj.", "attention.output.dense."),
        ("attn.", "attention.self."),
        ("mlp.fc1.", "intermediate.dense."),
        ("mlp.fc2.", "output.dense."),
    ):
        if rest.startswith(old):
            return new + rest[len(old) :]
    return rest


def laion_to_transformers(state: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """LAION keys (no ``module.``) → (front-end state, ClapModel state); unused heads and fixed masks are dropped.

    ``qkv`` is split into query, key and value (LAION stacks them in that order along the output axis).
    """
    front, clap = {}, {}
    for key, value in state.items():
        if key.startswith(_FRONT_END_PREFIXES):
            front[key.removeprefix("audio_branch.")] = value
        elif key.startswith(_UNUSED_PREFIXES) or key.endswith("attn_mask") or key in _OPTIONAL_KEYS:
            continue
        elif key.startswith("audio_branch."):
            name = key.removeprefix("audio_branch.")
            name = "batch_norm." + name.removeprefix("bn0.") if name.startswith("bn0.") else name
            parts = name.split(".")
            if parts[0] == "layers" and parts[2] == "blocks":
                head, rest = ".".join(parts[:4]), ".".join(parts[4:])
                if rest.startswith("attn.qkv."):
                    for piece, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                        clap[f"audio_model.audio_encoder.{head}.attention.self.{piece}.{parts[-1]}"] = chunk
                    continue
                name = f"{head}.{_rename_audio_block(rest)}"
            clap[f"audio_model.audio_encoder.{name}"] = value
        elif key.startswith("text_branch."):
            clap["text_model." + key.removeprefix("text_branch.")] = value
        elif key.startswith(("audio_projection.", "text_projection.")):
            tower, index, leaf = key.split(".")
            clap[f"{tower}.{_PROJECTION_LAYERS[index]}.{leaf}"] = value
        else:
            clap[key] = value  # logit_scale_a, logit_scale_t
    positions = torch.arange(htsat_base_config().text_config.max_position_embeddings)[None]
    clap["text_model.embeddings.position_ids"] = positions
    clap["text_model.embeddings.token_type_ids"] = torch.zeros_like(positions)
    return front, clap


class LaionClap(nn.Module):
    """The converted network: LAION's log-mel front end and transformers' ClapModel, frozen."""

    def __init__(self, front_end: _LogMel, clap: nn.Module) -> None:
        super().__init__()
        self.front_end, self.clap = front_end, clap

    def train(self, mode: bool = True) -> LaionClap:
        return super().train(False)

    @torch.no_grad()
    def audio_embedding(self, audio: Tensor) -> Tensor:
        """(B, 480000) 48 kHz waveform, already repeat-padded → (B, 512) L2-normalised audio embedding."""
        mel = self.front_end(audio.float())
        pooled = self.clap.audio_model(input_features=mel).pooler_output
        return F.normalize(self.clap.audio_projection(pooled), dim=-1)

    @torch.no_grad()
    def text_embedding(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(B, 77) RoBERTa token ids and mask → (B, 512) L2-normalised text embedding (pooler → projection)."""
        pooled = self.clap.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        return F.normalize(self.clap.text_projection(pooled), dim=-1)


def _mismatch(state: Mapping[str, Tensor], shapes: Mapping[str, Sequence[int]]) -> str:
    """A short description of what in ``state`` does not fit ``shapes`` ('' when all fits)."""
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes) - set(_OPTIONAL_KEYS))
    wrong = [k for k in sorted(set(shapes) & set(state)) if list(state[k].shape) != list(shapes[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{len(extra)} unexpected keys (first: {', '.join(extra[:3])})")
    if wrong:
        problems.append(
            "wrong shapes: " + ", ".join(f"{k} {list(state[k].shape)} ≠ {list(shapes[k])}" for k in wrong[:3])
        )
    return "; ".join(problems)


def load_laion_clap(checkpoint: str | Path) -> LaionClap:
    """The LAION-CLAP ``.pt`` file (``weights_only``; ``state_dict`` with ``module.`` keys) → a frozen :class:`LaionClap`.

    Missing file → ConfigError naming it and where it is published; a file of another model →
    ConfigError naming the first mismatching keys.
    """
    from transformers import ClapModel

    path = Path(checkpoint).expanduser()
    what = "LAION-CLAP HTSAT-base"
    if not path.is_file():
        raise ConfigError(
            f"{path}: {what} checkpoint file not found; the CLAP score needs {WEIGHTS_FILE}, "
            f"published at {WEIGHTS_URL}"
        )
    stored = read_weights(path, what)
    state = {key.removeprefix("module."): value for key, value in stored.items()}
    problem = _mismatch(state, official_shapes())
    if problem:
        raise ConfigError(f"{path}: not the {what} checkpoint ({WEIGHTS_FILE}): {problem}")
    front_state, clap_state = laion_to_transformers(state)
    front_end = _LogMel()
    front_end.load_state_dict(front_state, strict=True)
    with torch.device("meta"):
        clap = ClapModel(htsat_base_config())
    clap.load_state_dict(clap_state, strict=True, assign=True)
    clap.float()
    return freeze_module(LaionClap(front_end, clap))


def _relative_position_index(window: int) -> Tensor:
    """(w², w²) int64: index into the (2w−1)² relative-position bias table for each pair of window cells."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    cells = torch.stack([rows.flatten(), cols.flatten()])  # (2, w²)
    delta = cells[:, :, None] - cells[:, None, :] + (window - 1)
    return delta[0] * (2 * window - 1) + delta[1]


def _shifted_window_mask(size: int, window: int, shift: int) -> Tensor:
    """(windows, w², w²): 0 within a region of the cyclically shifted map, −100 across regions (Swin's mask)."""
    label = torch.zeros(size, size)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for index, (rows, cols) in enumerate((r, c) for r in bounds for c in bounds):
        label[rows, cols] = index
    cells = label.view(size // window, window, size // window, window).permute(0, 2, 1, 3)
    cells = cells.reshape(-1, window * window)
    return torch.where(cells[:, None, :] != cells[:, :, None], -100.0, 0.0)


def random_laion_clap_checkpoint(seed: int) -> dict[str, Any]:
    """Seeded random weights in the published container: LAION's training checkpoint dict.

    ``{"epoch", "name", "state_dict": {"module.<key>": tensor}, "optimizer", "scaler"}`` (DDP's prefix;
    the published file's optimizer state is large, here a stub of the same kind).

    Fixed tensors hold their real values: the STFT kernels and mel bank, Swin's relative-position
    indices and shifted-window masks, RoBERTa's position ids; batch-norm variances stay positive and
    every norm gain is 1 + N(0, 0.1²) (small random gains would make all captions embed alike).
    """
    from foleyzoo.zoo.testing import random_state_dict

    shapes = official_shapes()
    state = random_state_dict(shapes, seed)
    front = _LogMel()
    state["audio_branch.spectrogram_extractor.stft.conv_real.weight"] = (
        front.spectrogram_extractor.stft.conv_real.weight.data
    )
    state["audio_branch.spectrogram_extractor.stft.conv_imag.weight"] = (
        front.spectrogram_extractor.stft.conv_imag.weight.data
    )
    state["audio_branch.logmel_extractor.melW"] = torch.from_numpy(
        slaney_mel_filterbank(SAMPLE_RATE, 1024, 64, 50.0, 14000.0)
    )
    for key in shapes:
        if key.endswith("relative_position_index"):
            state[key] = _relative_position_index(_WINDOW)
        elif key.endswith("attn_mask"):
            stage = int(key.split(".")[2])
            state[key] = _shifted_window_mask(_GRID >> stage, _WINDOW, _SHIFT)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = 0.5 + state[key].abs()
        elif key.endswith(".weight") and len(shapes[key]) == 1:  # norm gains (LayerNorm, norm1, bn0) near 1
            state[key] = 1.0 + 0.5 * state[key]
    state["text_branch.embeddings.position_ids"] = torch.arange(514)[None]
    optimizer = {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]}  # the file carries Adam's state
    return {
        "epoch": 15,
        "name": "music_speech_audioset",
        "state_dict": {f"module.{key}": value for key, value in state.items()},
        "optimizer": optimizer,
        "scaler": {"scale": 65536.0, "_growth_tracker": 0},
    }


def _byte_symbols() -> list[str]:
    """The 256 printable characters byte-level BPE (GPT-2, RoBERTa) uses for bytes 0–255, in byte order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in kept else chr(next(extra)) for b in range(256)]


def write_byte_level_tokenizer(folder: str | Path) -> Path:
    """A small RoBERTa-format tokenizer folder (vocab.json, merges.txt): RoBERTa's special ids, bytes, six merges.

    A stand-in for ``roberta-base``'s files where they cannot be fetched: it exercises the same
    special tokens, padding and truncation, so recorded token ids can be reproduced offline.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merges = [("Ġ", "a"), ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r")]
    tokens = [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        *_byte_symbols(),
        *("".join(pair) for pair in merges),
        "<mask>",
    ]
    (folder / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return folder


def _audio_48k(inputs: Waveform) -> Tensor:
    """(B, C, N) at any rate → (B, N) mono at 48 kHz (channel mean, windowed-sinc resampling)."""
    return resample(to_mono(inputs.samples.float()), inputs.sample_rate, SAMPLE_RATE)[:, 0]


class _LaionEmbedder(Embedder):
    """What both LAION-CLAP embedders share: the published file's identity, loading, eval mode always."""

    sample_rate = SAMPLE_RATE
    weights_file = WEIGHTS_FILE
    weights_url = WEIGHTS_URL
    weights_licence = WEIGHTS_LICENCE
    published_sha256 = (
        "51c68f12f9d7ea25fdaaccf741ec7f81e93ee594455410f3bca4f47f88d8e006"  # LFS pointer, 2352471003 bytes
    )

    def __init__(self, checkpoint: str, model: LaionClap | None = None) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.model = model if model is not None else load_laion_clap(self.checkpoint)

    @classmethod
    def official_shapes(cls) -> dict[str, list[int]]:
        return official_shapes()

    def train(self, mode: bool = True) -> _LaionEmbedder:
        return super().train(False)


class LaionCLAPAudio(_LaionEmbedder):
    """Audio → LAION-CLAP's 512-d L2-normalised embedding, as av-benchmark's ``get_audio_embedding_from_data``.

    Each clip (mono, 48 kHz, as loaded: av-benchmark's cut to 8 s, never padded) is repeat-padded to
    10 s without int16 quantisation (``use_tensor=True``). Rows of a batch share one length, so embed
    clips of different lengths in separate calls; audio over 10 s keeps its first 10 s (LAION crops at
    random there; av-benchmark's 8 s cut never reaches it).
    """

    modality = "audio"

    @torch.no_grad()
    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if not isinstance(inputs, Waveform):
            raise TypeError(f"LaionCLAPAudio embeds a Waveform, got {type(inputs).__name__}")
        audio = torch.stack([repeat_pad(row) for row in _audio_48k(inputs)])
        device = self.model.front_end.spectrogram_extractor.stft.conv_real.weight.device
        return Embedding(values=self.model.audio_embedding(audio.to(device)).float())


class LaionCLAPText(_LaionEmbedder):
    """Captions → LAION-CLAP's 512-d L2-normalised text embedding (RoBERTa tokens padded/truncated to 77).

    ``tokenizer`` is a local folder holding ``roberta-base``'s tokenizer files (vocab.json and
    merges.txt); :meth:`embed_tokens` takes token ids directly.
    """

    modality = "text"

    def __init__(self, checkpoint: str, tokenizer: str | None = None, model: LaionClap | None = None) -> None:
        super().__init__(checkpoint, model)
        self.tokenizer_dir = tokenizer
        self._tokenizer: Any = None

    def tokenize(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """(input_ids, attention_mask), each (B, 77), as LAION-CLAP's ``RobertaTokenizer`` call makes them."""
        if self._tokenizer is None:
            if self.tokenizer_dir is None:
                raise ConfigError(
                    "LaionCLAPText needs tokenizer=<folder with roberta-base's vocab.json and merges.txt> "
                    "to embed captions (or call embed_tokens with token ids)"
                )
            from transformers import RobertaTokenizer

            try:
                self._tokenizer = RobertaTokenizer.from_pretrained(self.tokenizer_dir, local_files_only=True)
            except Exception as exc:
                raise ConfigError(
                    f"{self.tokenizer_dir}: no usable RoBERTa tokenizer ({type(exc).__name__}: {exc})"
                ) from exc
        tokens = self._tokenizer(
            list(captions), padding="max_length", truncation=True, max_length=TEXT_TOKENS, return_tensors="pt"
        )
        return tokens["input_ids"], tokens["attention_mask"]

    @torch.no_grad()
    def embed_tokens(self, input_ids: Tensor, attention_mask: Tensor) -> Embedding:
        """(B, 77) token ids and attention mask → (B, 512) text embeddings."""
        device = self.model.front_end.spectrogram_extractor.stft.conv_real.weight.device
        values = self.model.text_embedding(input_ids.to(device), attention_mask.to(device))
        return Embedding(values=values.float())

    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if isinstance(inputs, (Waveform, Video, str)):
            raise TypeError(f"LaionCLAPText embeds a sequence of captions, got {type(inputs).__name__}")
        return self.embed_tokens(*self.tokenize(inputs))
