"""``foleyzoo codec encode|decode|reconstruct``: run a trained codec on files, to hear what it keeps.

* ``encode``: audio/video files → ``<stem>.safetensors`` holding ``latents`` (T, C) with ``frame_rate``,
  ``sample_rate`` and ``samples`` (the input's length) in the metadata;
* ``decode``: such files → ``<stem>.wav`` through the codec's decoder and a vocoder;
* ``reconstruct``: audio/video files → ``<stem>.wav`` through encode, decode and the vocoder.

Checkpoints are loaded only through :func:`foleyzoo.checkpoints.load_module`. The vocoder is the one the
checkpoint was trained with if it names one, else Griffin-Lim with the codec's mel settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from foleyzoo.api import AudioCodec, Latents, Mel, Vocoder, Waveform
from foleyzoo.errors import ConfigError, FoleyzooError, MediaError

__all__ = ["build_parser", "main"]

VOCODERS = ("auto", "griffin-lim")


def build_parser() -> argparse.ArgumentParser:
    """The ``foleyzoo codec`` argument parser with its three subcommands."""
    parser = argparse.ArgumentParser(prog="foleyzoo codec", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    helps = {
        "encode": "audio/video files → latents (<stem>.safetensors)",
        "decode": "latent files (.safetensors) → audio (<stem>.wav)",
        "reconstruct": "audio/video files → audio through the codec and vocoder (<stem>.wav)",
    }
    for name, text in helps.items():
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--checkpoint", required=True, help="a `foleyzoo fit` checkpoint of a codec")
        sub.add_argument("inputs", nargs="+", metavar="INPUT")
        sub.add_argument("--output", required=True, help="folder for the outputs (created)")
        if name != "encode":
            sub.add_argument(
                "--vocoder", choices=VOCODERS, default="auto", help="auto: the checkpoint's, else Griffin-Lim"
            )
    return parser


def load_codec(path: str) -> AudioCodec:
    """The codec stored in a checkpoint, in eval mode; a checkpoint of anything else is an error."""
    from foleyzoo.checkpoints import load_module

    module = load_module(path)
    if not isinstance(module, AudioCodec):
        raise ConfigError(f"{path}: holds a {type(module).__name__}, not an audio codec")
    return module.eval()


def pick_vocoder(codec: AudioCodec, choice: str) -> Vocoder:
    """The checkpoint's vocoder (``auto``, when it has one), else Griffin-Lim on the codec's mel settings."""
    stored = getattr(codec, "vocoder", None)
    if choice == "auto" and isinstance(stored, Vocoder):
        return stored.eval()
    from foleyzoo.codecs.vocoders.griffin_lim import GriffinLimVocoder

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


def read_mono(path: Path, sample_rate: int) -> Waveform:
    """A file's first audio stream as a mono Waveform (1, 1, N) at ``sample_rate``."""
    from foleyzoo.data.media import read_audio

    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    return Waveform(read_audio(path, sample_rate, channels=1)[None], sample_rate)


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
    audio = vocoder.vocode(mel).samples[0]
    if samples is None:
        return audio
    # a vocoder renders (frames - 1) · hop samples: the input's last partial hop comes back as silence
    return torch.nn.functional.pad(audio, (0, max(0, samples - audio.shape[-1])))[..., :samples]


def run(args: argparse.Namespace) -> list[Path]:
    """Carry out one parsed command; returns the files written."""
    from foleyzoo.data.media import write_wav

    codec = load_codec(args.checkpoint)
    vocoder = None if args.command == "encode" else pick_vocoder(codec, args.vocoder)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with torch.no_grad():
        for name in args.inputs:
            path = Path(name)
            if args.command == "decode":
                latents, samples = load_latents(path, codec)
            else:
                audio = read_mono(path, codec.sample_rate)
                latents, samples = codec.encode(audio), audio.samples.shape[-1]
            if args.command == "encode":
                target = out / f"{path.stem}.safetensors"
                save_latents(target, latents, codec.sample_rate, samples)
            else:
                target = out / f"{path.stem}.wav"
                write_wav(target, render(codec, vocoder, latents, samples).clamp(-1, 1), codec.sample_rate)
            written.append(target)
    return written


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo codec``: 0 on success, 2 with a one-line message on a user error."""
    args = build_parser().parse_args(argv)
    try:
        for path in run(args):
            print(path)
    except FoleyzooError as exc:
        print(f"foleyzoo codec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0
