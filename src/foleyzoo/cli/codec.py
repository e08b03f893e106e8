"""``foleyzoo codec encode|decode|reconstruct``: run a trained codec on files, to hear what it keeps.

* ``encode``: audio/video files → ``<stem>.safetensors`` holding ``latents`` (T, C) with ``frame_rate``,
  ``sample_rate`` and ``samples`` (the input's length) in the metadata;
* ``decode``: such files → ``<stem>.wav`` through the codec's decoder and a vocoder;
* ``reconstruct``: audio/video files → ``<stem>.wav`` through encode, decode and the vocoder.

Long files are read, encoded, decoded and written a chunk at a time (``--chunk-seconds``, with a second
of context either side), so memory stays bounded. A bad input is reported and the others go on (exit 1).

Checkpoints are loaded only through :func:`foleyzoo.io.checkpoints.load_module`. The vocoder is the one the
checkpoint was trained with if it names one, else Griffin-Lim with the codec's mel settings.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from foleyzoo.api import AudioCodec, Latents, Mel, Vocoder, Waveform
from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError, MediaError
from foleyzoo.vocoders.base import vocode_to_length

__all__ = ["build_parser", "main"]

VOCODERS = ("auto", "griffin-lim")
MARGIN_SECONDS = 1.0
"""Context either side of a chunk of a long file: more than the receptive field of foleyzoo's codecs."""


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``foleyzoo codec`` argument parser with its three subcommands."""
    parser = CommandParser(prog="foleyzoo codec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "encode": "audio/video files → latents (<stem>.safetensors)",
        "decode": "latent files (.safetensors) → audio (<stem>.wav)",
        "reconstruct": "audio/video files → audio through the codec and vocoder (<stem>.wav)",
    }
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--checkpoint", required=True, help="a `foleyzoo fit` checkpoint of a codec")
        sub.add_argument("inputs", nargs="+", metavar="INPUT", help="files to read")
        sub.add_argument("--output", required=True, help="folder for the outputs (created)")
        if name != "encode":
            sub.add_argument(
                "--vocoder", choices=VOCODERS, default="auto", help="auto: the checkpoint's, else Griffin-Lim"
            )
        sub.add_argument(
            "--chunk-seconds",
            type=_positive_seconds,
            default=30.0,
            help="longer files are processed in pieces of this many seconds, with a second of context "
            "either side, so memory stays bounded (default: 30)",
        )
    return parser


def load_codec(path: str) -> AudioCodec:
    """The codec stored in a checkpoint, in eval mode; a checkpoint of anything else is an error."""
    from foleyzoo.io.checkpoints import load_module

    module = load_module(path)
    if not isinstance(module, AudioCodec):
        raise ConfigError(f"{path}: holds a {type(module).__name__}, not an audio codec")
    return module.eval()


def pick_vocoder(codec: AudioCodec, choice: str) -> Vocoder:
    """The checkpoint's vocoder (``auto``, when it has one), else Griffin-Lim on the codec's mel settings."""
    stored = getattr(codec, "vocoder", None)
    if choice == "auto" and isinstance(stored, Vocoder):
        return stored.eval()
    from foleyzoo.vocoders.griffin_lim import GriffinLimVocoder

    config = getattr(codec, "mel_config", None)
    if config is None:
        raise ConfigError(f"{type(codec).__name__} has no mel settings for a Griffin-Lim vocoder")
    return GriffinLimVocoder(
        sample_rate=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        f_min=config.f_min,
        f_max=config.f_max,
    )


def read_mono(path: Path, sample_rate: int, start: int = 0, count: int | None = None) -> Waveform:
    """``count`` samples from sample ``start`` of a file's first audio stream (all of it when ``count`` is
    None) as a mono Waveform (1, 1, N) at ``sample_rate``: only that span is decoded."""
    from foleyzoo.io.media import read_audio

    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    duration = None if count is None else count / sample_rate
    return Waveform(read_audio(path, sample_rate, 1, start / sample_rate, duration)[None], sample_rate)


@dataclass(frozen=True)
class Chunk:
    """One piece of a long file, in latent frames: ``[read_start, read_stop)`` is encoded or decoded (the
    piece with its margins of context), ``[keep_start, keep_stop)`` is what it contributes to the output."""

    read_start: int
    read_stop: int
    keep_start: int
    keep_stop: int


def plan_chunks(frames: int, chunk: int, margin: int) -> list[Chunk]:
    """Latent frames ``[0, frames)`` cut into pieces of ``chunk`` frames, each read with ``margin`` frames
    of context either side, so that memory stays bounded however long the file is."""
    return [
        Chunk(max(0, start - margin), min(frames, start + chunk + margin), start, min(frames, start + chunk))
        for start in range(0, max(frames, 1), max(chunk, 1))
    ]


def samples_per_frame(codec: AudioCodec) -> int:
    """Waveform samples a latent frame stands for (the codec's total hop)."""
    return max(1, round(codec.sample_rate / codec.latent_rate))


def input_length(path: Path, sample_rate: int) -> int:
    """The file's audio length in samples at ``sample_rate``, from its header (nothing is decoded)."""
    from foleyzoo.io.media import probe

    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    info = probe(path)
    if not info.has_audio:
        raise MediaError(f"{path}: no audio stream in the file")
    return round(info.duration * sample_rate)


def encode_file(codec: AudioCodec, path: Path, chunk_seconds: float) -> tuple[Latents, int]:
    """(latents (1, T, C), the input's length in samples) of a file, encoded a chunk at a time."""
    hop = samples_per_frame(codec)
    samples = input_length(path, codec.sample_rate)
    chunk = _chunk_frames(codec, chunk_seconds)
    if samples <= chunk * hop:
        audio = read_mono(path, codec.sample_rate)
        return codec.encode(audio), audio.samples.shape[-1]
    pieces = []
    for part in plan_chunks(math.ceil(samples / hop), chunk, _margin(codec)):
        count = min(samples, part.read_stop * hop) - part.read_start * hop
        latents = codec.encode(read_mono(path, codec.sample_rate, part.read_start * hop, count)).values
        pieces.append(latents[:, part.keep_start - part.read_start : part.keep_stop - part.read_start])
    return Latents(torch.cat(pieces, dim=1), codec.latent_rate), samples


def _margin(codec: AudioCodec) -> int:
    """Latent frames of context either side of a chunk (:data:`MARGIN_SECONDS`)."""
    return max(1, math.ceil(MARGIN_SECONDS * codec.latent_rate))


def _chunk_frames(codec: AudioCodec, chunk_seconds: float) -> int:
    """Latent frames of one chunk of ``chunk_seconds``."""
    return max(1, round(chunk_seconds * codec.latent_rate))


def render_chunks(
    codec: AudioCodec, vocoder: Vocoder, latents: Latents, samples: int | None, chunk_seconds: float
) -> Iterator[torch.Tensor]:
    """Mono audio (1, n) pieces of ``render`` over long latents, a chunk at a time, ``samples`` long in all."""
    hop = samples_per_frame(codec)
    total = samples if samples is not None else latents.values.shape[1] * hop
    chunk = _chunk_frames(codec, chunk_seconds)
    frames = latents.values.shape[1]
    if frames <= chunk:
        yield render(codec, vocoder, latents, samples)
        return
    for part in plan_chunks(frames, chunk, _margin(codec)):
        piece = Latents(latents.values[:, part.read_start : part.read_stop], latents.frame_rate)
        audio = render(codec, vocoder, piece, (part.read_stop - part.read_start) * hop)
        keep = audio[
            ..., (part.keep_start - part.read_start) * hop : (part.keep_stop - part.read_start) * hop
        ]
        yield keep[..., : max(0, total - part.keep_start * hop)]


def save_latents(path: Path, latents: Latents, sample_rate: int, samples: int) -> None:
    """Write latents (1, T, C) as ``latents`` (T, C) with frame_rate, sample_rate and samples metadata."""
    from safetensors.torch import save_file

    metadata = {
        "frame_rate": repr(latents.frame_rate),
        "sample_rate": str(sample_rate),
        "samples": str(samples),
    }
    save_file({"latents": latents.values[0].contiguous()}, str(path), metadata=metadata)


def load_latents(path: Path, codec: AudioCodec) -> tuple[Latents, int | None]:
    """(latents (1, T, C), input length in samples or None) from a file ``encode`` wrote; checked against the codec."""
    from safetensors import safe_open

    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata, values = handle.metadata() or {}, handle.get_tensor("latents")
    except Exception as exc:
        raise MediaError(f"{path}: not a latent file written by `foleyzoo codec encode` ({exc})") from exc
    if values.dim() != 2 or values.shape[1] != codec.latent_dim:
        raise MediaError(
            f"{path}: latents are {tuple(values.shape)}, the codec wants (T, {codec.latent_dim})"
        )
    rate = float(metadata.get("frame_rate", codec.latent_rate))
    if abs(rate - codec.latent_rate) > 1e-6 * codec.latent_rate:
        raise MediaError(f"{path}: latents at {rate} Hz, the codec's are {codec.latent_rate} Hz")
    samples = int(metadata["samples"]) if "samples" in metadata else None
    return Latents(values=values[None].float(), frame_rate=rate), samples


def render(codec: AudioCodec, vocoder: Vocoder, latents: Latents, samples: int | None) -> torch.Tensor:
    """Latents (1, T, C) → mono audio (1, N), cut or padded to ``samples`` when the input length is known."""
    mel = codec.decode(latents)
    if samples is not None and hasattr(codec, "mel_config"):
        frames = codec.mel_config.frames_for(samples)
        mel = Mel(mel.values[..., :frames], mel.sample_rate, mel.frame_rate)
    if samples is None:
        return vocoder.vocode(mel).samples[0]
    return vocode_to_length(vocoder, mel, samples).samples[0]


def run(args: argparse.Namespace) -> tuple[list[Path], list[str]]:
    """Carry out one parsed command; returns the files written and one line per input that failed.

    A bad input is reported and skipped, the others go on. Each output is written to a temporary file
    and renamed into place, so an interrupted run never leaves a cut file under an output's name.
    """
    codec = load_codec(args.checkpoint)
    vocoder = None if args.command == "encode" else pick_vocoder(codec, args.vocoder)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    with torch.no_grad():
        for name in args.inputs:
            path = Path(name)
            try:
                written.append(_run_one(args, codec, vocoder, path, out))
            except (FoleyzooError, OSError) as exc:
                failed.append(f"{path}: {exc}" if not isinstance(exc, FoleyzooError) else str(exc))
    return written, failed


def _run_one(
    args: argparse.Namespace, codec: AudioCodec, vocoder: Vocoder | None, path: Path, out: Path
) -> Path:
    """Encode, decode or reconstruct one file into ``out``; returns the file written."""
    from foleyzoo.io.atomic import atomic_output

    if args.command == "decode":
        latents, samples = load_latents(path, codec)
    else:
        latents, samples = encode_file(codec, path, args.chunk_seconds)
    if args.command == "encode":
        target = out / f"{path.stem}.safetensors"
        with atomic_output(target) as temporary:
            save_latents(temporary, latents, codec.sample_rate, samples)
        return target
    assert vocoder is not None
    target = out / f"{path.stem}.wav"
    pieces = render_chunks(codec, vocoder, latents, samples, args.chunk_seconds)
    write_wav_stream(target, (piece.clamp(-1, 1) for piece in pieces), codec.sample_rate)
    return target


def write_wav_stream(target: Path, pieces: Iterable[torch.Tensor], sample_rate: int) -> None:
    """Write mono pieces (1, n) one after another as a 32-bit float WAV, atomically, never all in memory."""
    import soundfile as sf

    from foleyzoo.io.atomic import atomic_output
    from foleyzoo.io.media import zero_peak_timestamp

    try:
        with atomic_output(target) as temporary:
            with sf.SoundFile(str(temporary), "w", sample_rate, 1, subtype="FLOAT", format="WAV") as handle:
                for piece in pieces:
                    handle.write(piece[0].cpu().numpy())
            zero_peak_timestamp(temporary)  # byte-identical files for equal samples, as write_wav gives
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise MediaError(f"{target}: cannot write the WAV file ({exc})") from exc


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo codec``: 0 on success, 2 with a one-line message on a user error."""
    args = build_parser().parse_args(argv)
    try:
        written, failed = run(args)
    except FoleyzooError as exc:
        print(f"foleyzoo codec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    for line in failed:
        print(f"foleyzoo codec {args.command}: failed {line}", file=sys.stderr)
    return 1 if failed else 0
