"""``foleyzoo eval``: score generated audio against reference audio (and videos, captions) with foleyzoo.metrics.

Files are paired by stem. Audio is pre-processed as av-benchmark does: mono (mean of the channels),
resampled to each network's rate, cut or zero-padded to ``--duration`` seconds. The results print as a
markdown table; ``--json`` writes them with every setting used, so a number can be traced to its run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError, MediaError

__all__ = ["EMBEDDER_NAMES", "METRICS", "build_parser", "evaluate", "main", "read_manifest"]

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi")
METRICS = ("fd", "favd", "kl", "is", "av-align", "desync", "clap", "synthfoley")
EMBEDDER_NAMES = {
    "panns": "a PANNs CNN14 weights file (Cnn14_16k_mAP=0.438.pth or .safetensors)",
    "vggish": "a VGGish weights file (vggish-10086976.pth or .safetensors)",
    "clap": "a CLAP model directory written by save_pretrained (ClapModel, tokenizer, feature extractor)",
    "contrastive": "an AVContrastive checkpoint of `foleyzoo fit`",
    "sync": "a SyncPretraining checkpoint of `foleyzoo fit`",
}
ID_COLUMNS = ("id", "name", "ytid", "youtube_id", "video_id", "video", "file", "filename", "stem")
CAPTION_COLUMNS = ("caption", "text", "prompt", "label", "description")
PATH_COLUMNS = ("path", "audio", "audio_path", "video_path", "filepath")
DIRECTIONS = {
    "fd": "lower",
    "favd": "lower",
    "kl": "lower",
    "is": "higher",
    "av-align": "higher",
    "desync": "lower",
    "clap": "higher",
}


# --------------------------------------------------------------------------- inputs


@dataclass
class ManifestRow:
    """One line of a manifest: the clip id, its caption (maybe empty) and its file (maybe unknown)."""

    id: str
    caption: str = ""
    path: Path | None = None


def _pick(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {column.strip().lower(): column for column in columns}
    return next((lowered[name] for name in names if name in lowered), None)


def read_manifest(path: Path) -> list[ManifestRow]:
    """Rows of a CSV manifest: with a header naming an id column (and maybe caption and path columns), or
    VGGSound's header-less ``youtube_id,start,label,split`` (id ``<youtube_id>_<start:06d>``, test rows only).

    Relative paths are relative to the manifest's folder. A file that is none of these is a ConfigError.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read the manifest ({type(exc).__name__}: {exc})") from exc
    if not rows:
        raise ConfigError(f"{path}: the manifest is empty")
    header = rows[0]
    id_column = _pick(header, ID_COLUMNS)
    if id_column is not None:
        caption_column, path_column = _pick(header, CAPTION_COLUMNS), _pick(header, PATH_COLUMNS)
        index = {name: header.index(name) for name in (id_column, caption_column, path_column) if name}
        out = []
        for number, row in enumerate(rows[1:], start=2):
            if len(row) < len(header):
                raise ConfigError(f"{path}: line {number} has {len(row)} fields, the header {len(header)}")
            stem = row[index[id_column]].strip()
            caption = row[index[caption_column]].strip() if caption_column else ""
            file = row[index[path_column]].strip() if path_column else ""
            out.append(ManifestRow(Path(stem).stem if "." in stem else stem, caption, _relative(path, file)))
        return out
    if all(len(row) == 4 for row in rows) and all(_is_number(row[1]) for row in rows):
        return [
            ManifestRow(f"{row[0].strip()}_{int(float(row[1])):06d}", row[2].strip())
            for row in rows
            if row[3].strip().lower() == "test"
        ]
    raise ConfigError(
        f"{path}: not a manifest foleyzoo reads: give a header with an id column ({', '.join(ID_COLUMNS)}) "
        "and optionally caption and path columns, or VGGSound's youtube_id,start,label,split rows"
    )


def _relative(manifest: Path, file: str) -> Path | None:
    if not file:
        return None
    candidate = Path(file).expanduser()
    return candidate if candidate.is_absolute() else manifest.parent / candidate


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def collect(source: Path, suffixes: Sequence[str], what: str) -> tuple[dict[str, Path], dict[str, str]]:
    """(stem → file, stem → caption) of a folder of media files or of a CSV manifest."""
    if not source.exists():
        raise ConfigError(f"{source}: {what} not found (a folder of files or a CSV manifest)")
    if source.is_file():
        rows = read_manifest(source)
        files, captions = {}, {row.id: row.caption for row in rows if row.caption}
        for row in rows:
            file = row.path if row.path is not None else _in_folder(source.parent, row.id, suffixes)
            if file is None or not file.is_file():
                raise MediaError(
                    f"{source}: no {what} file for id {row.id!r} ({file or 'not listed, none found'})"
                )
            files[row.id] = file
        return files, captions
    files: dict[str, Path] = {}
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise MediaError(
                    f"{source}: two {what} files share the stem {path.stem!r}: {files[path.stem].name}, {path.name}"
                )
            files[path.stem] = path
    if not files:
        raise MediaError(f"{source}: no {what} files ({', '.join(suffixes)}) in the folder")
    return files, {}


def _in_folder(folder: Path, stem: str, suffixes: Sequence[str]) -> Path | None:
    return next(
        (folder / f"{stem}{suffix}" for suffix in suffixes if (folder / f"{stem}{suffix}").is_file()), None
    )


@dataclass
class Inputs:
    """The paired clips: ids, generated and reference files, videos, captions, and what stayed unpaired."""

    ids: list[str]
    generated: dict[str, Path]
    reference: dict[str, Path]
    videos: dict[str, Path] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    generated_only: list[str] = field(default_factory=list)
    reference_only: list[str] = field(default_factory=list)


def gather_inputs(args: argparse.Namespace) -> Inputs:
    """Pair the generated files with reference files (or the videos' soundtracks) by stem."""
    media = AUDIO_SUFFIXES + VIDEO_SUFFIXES
    generated, _ = collect(args.generated, media, "generated audio")
    videos, video_captions = collect(args.videos, VIDEO_SUFFIXES, "video") if args.videos else ({}, {})
    if args.reference is not None:
        reference, captions = collect(args.reference, media, "reference audio")
    elif videos:
        reference, captions = videos, {}
    else:
        raise ConfigError(
            "give --reference (audio files or a manifest), or --videos whose soundtracks are the reference"
        )
    captions = {**video_captions, **captions}
    if args.captions is not None:
        if not args.captions.is_file():
            raise ConfigError(f"{args.captions}: captions file not found")
        captions.update({row.id: row.caption for row in read_manifest(args.captions) if row.caption})
    ids = sorted(set(generated) & set(reference))
    if not ids:
        raise MediaError(
            f"{args.generated}: no generated file shares a stem with a reference file in {args.reference or args.videos} "
            f"(e.g. {sorted(generated)[:3]} vs {sorted(reference)[:3]})"
        )
    return Inputs(
        ids=ids,
        generated=generated,
        reference=reference,
        videos=videos,
        captions=captions,
        generated_only=sorted(set(generated) - set(reference)),
        reference_only=sorted(set(reference) - set(generated)),
    )


# --------------------------------------------------------------------------- networks


def _parse_embedders(items: Sequence[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value:
            raise ConfigError(
                f"--embedders takes NAME=PATH, got {item!r} (names: {', '.join(EMBEDDER_NAMES)})"
            )
        if name not in EMBEDDER_NAMES:
            raise ConfigError(
                f"--embedders: unknown network {name!r}; foleyzoo eval knows {', '.join(EMBEDDER_NAMES)}"
            )
        out[name] = Path(value).expanduser()
    return out


def _needs(metrics: Sequence[str], paths: dict[str, Path], inputs: Inputs) -> None:
    """A ConfigError for a requested metric that lacks its network, videos or captions."""
    audio_nets = {"panns", "vggish", "contrastive", "clap"} & set(paths)
    wants = {
        "fd": (bool(audio_nets), "an audio network: --embedders panns=… vggish=… or contrastive=…"),
        "favd": ("contrastive" in paths and bool(inputs.videos), "--embedders contrastive=CKPT and --videos"),
        "kl": ("panns" in paths, "PANNs logits: --embedders panns=PATH"),
        "is": ("panns" in paths, "PANNs logits: --embedders panns=PATH"),
        "av-align": (
            "contrastive" in paths and bool(inputs.videos),
            "--embedders contrastive=CKPT and --videos",
        ),
        "desync": ("sync" in paths and bool(inputs.videos), "--embedders sync=CKPT and --videos"),
        "clap": ("clap" in paths and bool(inputs.captions), "--embedders clap=DIR and captions (--captions)"),
        "synthfoley": (True, ""),
    }
    for metric in metrics:
        ok, need = wants[metric]
        if not ok:
            raise ConfigError(f"metric {metric!r} needs {need}")


def _default_metrics(paths: dict[str, Path], inputs: Inputs) -> list[str]:
    chosen = []
    for metric in METRICS:
        try:
            _needs([metric], paths, inputs)
        except ConfigError:
            continue
        if metric != "synthfoley" or _truth_files(inputs, required=False):
            chosen.append(metric)
    return chosen


def _truth_files(inputs: Inputs, required: bool = True) -> dict[str, Path]:
    """``<stem>.json`` SynthFoley ground truth beside the reference files or the videos, for every pair."""
    found, missing = {}, []
    for stem in inputs.ids:
        candidates = [inputs.reference[stem].with_suffix(".json")]
        if stem in inputs.videos:
            candidates.append(inputs.videos[stem].with_suffix(".json"))
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(stem)
        else:
            found[stem] = path
    if missing and required:
        raise MediaError(
            f"metric 'synthfoley' needs <stem>.json ground truth beside the reference files or videos; "
            f"none for {len(missing)} clip(s): {', '.join(missing[:5])}"
        )
    return found if not missing else {}


def load_networks(paths: dict[str, Path], metrics: Sequence[str], device: torch.device) -> dict[str, Any]:
    """The networks the metrics need, each loaded once from its file and moved to ``device``."""
    from foleyzoo.embedders import (
        AVContrastiveAudio,
        AVContrastiveVideo,
        CLAPAudio,
        CLAPText,
        PANNsCNN14,
        SyncOffsetModel,
        VGGish,
    )
    from foleyzoo.embedders.clap import load_clap

    wanted = set(metrics)
    nets: dict[str, Any] = {}
    if "panns" in paths and wanted & {"fd", "kl", "is"}:
        nets["panns"] = PANNsCNN14(str(paths["panns"]))
    if "vggish" in paths and "fd" in wanted:
        nets["vggish"] = VGGish(str(paths["vggish"]))
    if "contrastive" in paths and wanted & {"fd", "favd", "av-align"}:
        nets["contrastive"] = AVContrastiveAudio(str(paths["contrastive"]))
        nets["contrastive-video"] = AVContrastiveVideo.sharing(nets["contrastive"])
    if "clap" in paths and "clap" in wanted:
        parts = load_clap(str(paths["clap"]))
        nets["clap"], nets["clap-text"] = CLAPAudio(parts=parts), CLAPText(parts=parts)
    if "sync" in paths and "desync" in wanted:
        nets["sync"] = SyncOffsetModel(str(paths["sync"]))
    return {name: net.to(device) for name, net in nets.items()}


# --------------------------------------------------------------------------- evaluation


class _AudioReader:
    """Reads a file's audio once per rate: mono, cut or padded to ``duration``, via ``--sample-rate`` if set."""

    def __init__(self, duration: float, decode_rate: int | None) -> None:
        self.duration, self.decode_rate = duration, decode_rate

    def read(self, path: Path, rate: int) -> torch.Tensor:
        from foleyzoo.data.media import read_audio
        from foleyzoo.metrics.audio import fit_length, resample

        if self.decode_rate is None or self.decode_rate == rate:
            return read_audio(path, rate, channels=1, duration=self.duration)
        decoded = read_audio(path, self.decode_rate, channels=1, duration=self.duration)
        return fit_length(resample(decoded, self.decode_rate, rate), round(self.duration * rate))

    def batch(self, paths: Sequence[Path], rate: int) -> torch.Tensor:
        return torch.stack([self.read(path, rate) for path in paths])


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def _read_frames(
    paths: Sequence[Path], fps: float, size: tuple[int, int] | None, duration: float
) -> torch.Tensor:
    from foleyzoo.data.media import read_video_frames

    return torch.stack([read_video_frames(path, fps, size=size, duration=duration)[0] for path in paths])


@torch.no_grad()
def evaluate(
    args: argparse.Namespace, inputs: Inputs, metrics: Sequence[str], nets: dict[str, Any]
) -> dict[str, float]:
    """Every requested metric over the paired clips → {result name: value}."""
    from foleyzoo.api import Video, Waveform
    from foleyzoo.metrics import (
        AVAlignment,
        DeSync,
        FrechetAudioVisualDistance,
        FrechetDistance,
        InceptionScore,
        KLDivergence,
        SynthFoleyScores,
        TextAudioScore,
    )

    device = torch.device(args.device)
    reader = _AudioReader(args.duration, args.sample_rate)
    fd_nets = [name for name in ("panns", "vggish", "contrastive") if name in nets] if "fd" in metrics else []
    fds = {name: FrechetDistance() for name in fd_nets}
    kl, inception = KLDivergence(), InceptionScore(splits=args.is_splits, seed=args.is_seed)
    alignment, favd, desync, clap = AVAlignment(), FrechetAudioVisualDistance(), DeSync(), TextAudioScore()
    synthfoley = SynthFoleyScores()
    truths = _truth_files(inputs) if "synthfoley" in metrics else {}
    for ids in _chunks(inputs.ids, args.batch_size):
        generated_paths = [inputs.generated[i] for i in ids]
        reference_paths = [inputs.reference[i] for i in ids]
        contrastive: dict[str, torch.Tensor] = {}  # this chunk's AVContrastive audio embeddings, once each
        for name in fd_nets + [n for n in ("panns",) if n in nets and n not in fd_nets]:
            net = nets[name]
            rate = net.sample_rate
            fake = Waveform(reader.batch(generated_paths, rate).to(device), rate)
            real = Waveform(reader.batch(reference_paths, rate).to(device), rate)
            if name == "vggish":
                fds[name].update(
                    generated=net.embed_examples(fake).cpu(), reference=net.embed_examples(real).cpu()
                )
                continue
            fake_emb, real_emb = net.embed(fake), net.embed(real)
            if name in fds:
                fds[name].update(generated=fake_emb.values.cpu(), reference=real_emb.values.cpu())
            if name == "contrastive":
                contrastive = {"generated": fake_emb.values.cpu(), "reference": real_emb.values.cpu()}
            if name == "panns":
                if "kl" in metrics:
                    kl.update(fake_emb.logits.cpu(), real_emb.logits.cpu())
                if "is" in metrics:
                    inception.update(fake_emb.logits.cpu())
        if {"av-align", "favd"} & set(metrics):
            video = _video_embedding(nets, inputs, ids, args.duration, device)
            sets = ("generated", "reference") if "favd" in metrics else ("generated",)
            for which in sets:
                if which not in contrastive:
                    files = generated_paths if which == "generated" else reference_paths
                    contrastive[which] = _contrastive_audio(nets["contrastive"], reader, files, device)
            if "av-align" in metrics:
                alignment.update(contrastive["generated"], video)
            if "favd" in metrics:
                favd.update(
                    generated=contrastive["generated"], reference=contrastive["reference"], video=video
                )
        if "desync" in metrics:
            sync = nets["sync"]
            frames = _read_frames(_videos(inputs, ids), sync.fps, sync.frame_size, args.duration)
            sound = reader.batch(generated_paths, sync.sample_rate)
            desync.update(
                sync.predict_offsets(
                    Video(frames.to(device), sync.fps), Waveform(sound.to(device), sync.sample_rate)
                )
            )
        if "clap" in metrics:
            missing = [i for i in ids if not inputs.captions.get(i)]
            if missing:
                raise ConfigError(
                    f"metric 'clap' needs a caption for every clip; none for {', '.join(missing[:5])}"
                )
            audio_net = nets["clap"]
            fake = Waveform(
                reader.batch(generated_paths, audio_net.sample_rate).to(device), audio_net.sample_rate
            )
            text = nets["clap-text"].embed([inputs.captions[i] for i in ids]).values
            clap.update(text.cpu(), audio_net.embed(fake).values.cpu())
        if "synthfoley" in metrics:
            from foleyzoo.data.media import read_audio
            from foleyzoo.data.synthfoley.scorer import SAMPLE_RATE, GroundTruth

            stereo = torch.stack(
                [read_audio(p, SAMPLE_RATE, channels=2, duration=args.duration) for p in generated_paths]
            )
            synthfoley.update(
                stereo, [GroundTruth.load(truths[i]) for i in ids], stems=list(ids), sample_rate=SAMPLE_RATE
            )
    results: dict[str, float] = {}
    labels = {"panns": "PANNs", "vggish": "VGGish", "contrastive": "AVContrastive"}
    for name, metric in fds.items():
        results[f"FD-{labels[name]}"] = float(metric.compute())
    if "favd" in metrics:
        results["FAVD-AVContrastive"] = float(favd.compute())
    if "kl" in metrics:
        results["KL-PANNs"] = float(kl.compute())
    if "is" in metrics:
        mean, std = inception.compute()
        results["IS-PANNs"], results["IS-PANNs-std"] = float(mean), float(std)
    if "av-align" in metrics:
        results["AV-Align-AVContrastive"] = float(alignment.compute())
    if "desync" in metrics:
        results["DeSync-SyncPretraining"] = float(desync.compute())
    if "clap" in metrics:
        results["CLAP"] = float(clap.compute())
    if "synthfoley" in metrics:
        summary = synthfoley.compute()
        for key in (
            "f1",
            "precision",
            "recall",
            "median_offset_ms",
            "class_accuracy",
            "pan_error",
            "silent_false_alarms",
        ):
            results[f"SynthFoley-{key}"] = summary[key]
    return results


def _videos(inputs: Inputs, ids: Sequence[str]) -> list[Path]:
    missing = [i for i in ids if i not in inputs.videos]
    if missing:
        raise MediaError(f"no video for {len(missing)} paired clip(s): {', '.join(missing[:5])}")
    return [inputs.videos[i] for i in ids]


def _contrastive_audio(
    net: Any, reader: _AudioReader, paths: Sequence[Path], device: torch.device
) -> torch.Tensor:
    """AVContrastive audio embeddings (B, D) of the files, on the CPU (for AV alignment and FAVD)."""
    from foleyzoo.api import Waveform

    sound = Waveform(reader.batch(paths, net.sample_rate).to(device), net.sample_rate)
    return net.embed(sound).values.cpu()


def _video_embedding(
    nets: dict[str, Any], inputs: Inputs, ids: Sequence[str], duration: float, device: torch.device
) -> torch.Tensor:
    from foleyzoo.api import Video

    net = nets["contrastive-video"]
    frames = _read_frames(_videos(inputs, ids), net.fps, net.frame_size, duration)
    return net.embed(Video(frames.to(device), net.fps)).values.cpu()


# --------------------------------------------------------------------------- report


def _direction(name: str) -> str:
    from foleyzoo.metrics.synthfoley import SYNTHFOLEY_DIRECTIONS

    if name.startswith("SynthFoley-"):
        return SYNTHFOLEY_DIRECTIONS.get(name.removeprefix("SynthFoley-"), "")
    if name == "IS-PANNs-std":
        return ""
    key = {
        "FD": "fd",
        "FAVD": "favd",
        "KL": "kl",
        "IS": "is",
        "AV": "av-align",
        "DeSync": "desync",
        "CLAP": "clap",
    }[name.split("-")[0]]
    return DIRECTIONS[key]


def markdown_table(results: dict[str, float]) -> str:
    """The results as a markdown table: metric, value, and whether lower or higher is better."""
    arrows = {"lower": "↓ lower is better", "higher": "↑ higher is better", "": ""}
    lines = ["| metric | value | direction |", "|---|---:|---|"]
    lines += [f"| {name} | {value:.4f} | {arrows[_direction(name)]} |" for name, value in results.items()]
    return "\n".join(lines)


def _file_record(path: Path) -> dict[str, Any]:
    """Path and SHA-256 of a weights file (a directory: of each file in it), to trace results to weights."""

    def digest(file: Path) -> str:
        sha = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        return sha.hexdigest()

    if path.is_dir():
        return {
            "path": str(path.resolve()),
            "sha256": {p.name: digest(p) for p in sorted(path.iterdir()) if p.is_file()},
        }
    return {"path": str(path.resolve()), "sha256": digest(path)}


def settings_record(
    args: argparse.Namespace, metrics: Sequence[str], paths: dict[str, Path], nets: dict[str, Any]
) -> dict[str, Any]:
    """Every setting that determines the numbers: inputs, pre-processing, networks and metric parameters."""
    rates = {name: int(net.sample_rate) for name, net in nets.items() if hasattr(net, "sample_rate")}
    return {
        "generated": str(args.generated.resolve()),
        "reference": None if args.reference is None else str(args.reference.resolve()),
        "videos": None if args.videos is None else str(args.videos.resolve()),
        "captions": None if args.captions is None else str(args.captions.resolve()),
        "metrics": list(metrics),
        "audio": {
            "channels": "mono (mean of the channels)",
            "duration_s": args.duration,
            "length": "cut to duration, zero-padded at the end when shorter",
            "decode_sample_rate": args.sample_rate,
            "network_sample_rates": rates,
            "resampling": "PyAV (libswresample) when decoding; windowed sinc (6 zero crossings, roll-off 0.99) after --sample-rate",
        },
        "networks": {name: _file_record(path) for name, path in paths.items()},
        "fd": "Fréchet distance of Gaussians fitted to the paired clips' embeddings (unbiased covariance, float64); VGGish pools every 0.96 s example",
        "favd": "Fréchet audio-visual distance: FD (as fd) of each paired clip's AVContrastive audio embedding concatenated with its video's embedding, so a wrong pairing counts",
        "kl": "KL(reference ‖ generated) of softmax(PANNs logits), summed over the 527 classes, averaged over pairs",
        "is": {
            "logits": "PANNs",
            "splits": args.is_splits,
            "shuffle_seed": args.is_seed,
            "std": "numpy (ddof 0)",
        },
        "av_align": "mean cosine of AVContrastive audio and video embeddings, raw scale [-1, 1]",
        "desync": desync_record(nets.get("sync")),
        "clap": "mean cosine of CLAP text and audio embeddings, raw scale [-1, 1]",
        "batch_size": args.batch_size,
        "device": args.device,
    }


def desync_record(judge: Any) -> str:
    """How DeSync was computed, including what the judge does with a sound it cannot place."""
    rule = "mean |offset| (s) SyncPretraining predicts, over windows spread over each clip"
    if judge is None:
        return rule
    model = judge.model
    if model.null_label is None:
        return f"{rule}; every window gets a grid offset (no 'nothing to synchronise' class)"
    return (
        f"{rule}; a window the judge finds nothing to synchronise in counts as {model.max_offset:g} s, "
        "the edge of its grid"
    )


# --------------------------------------------------------------------------- command


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="foleyzoo eval",
        description="Score generated audio against reference audio (FD, FAVD, KL, IS, AV alignment, DeSync, CLAP, SynthFoley).",
    )
    parser.add_argument(
        "--generated", type=Path, required=True, help="folder (or CSV manifest) of generated audio"
    )
    parser.add_argument(
        "--reference",
        type=Path,
        help="folder or CSV manifest of reference audio (default: the videos' soundtracks)",
    )
    parser.add_argument(
        "--videos", type=Path, help="folder or CSV manifest of the input videos (FAVD, AV alignment, DeSync)"
    )
    parser.add_argument("--captions", type=Path, help="CSV with id and caption columns (CLAP score)")
    parser.add_argument(
        "--metrics", nargs="+", choices=METRICS, help="metrics to compute (default: all the inputs allow)"
    )
    parser.add_argument(
        "--embedders",
        nargs="+",
        default=[],
        metavar="NAME=PATH",
        help="networks: " + "; ".join(f"{name}={what}" for name, what in EMBEDDER_NAMES.items()),
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=None,
        help="decode audio at this rate first (default: each network's own)",
    )
    parser.add_argument(
        "--duration", type=float, default=8.0, help="seconds each clip is cut or padded to (default 8)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default 10)")
    parser.add_argument(
        "--is-seed", type=int, default=2020, help="Inception Score shuffle seed (default 2020)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the results and every setting used to this file")
    return parser


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    """Evaluate and report; returns the JSON record."""
    from foleyzoo import __version__

    if args.duration <= 0 or args.batch_size < 1 or (args.sample_rate is not None and args.sample_rate <= 0):
        raise ConfigError("--duration, --batch-size and --sample-rate must be positive")
    inputs = gather_inputs(args)
    paths = _parse_embedders(args.embedders)
    metrics = list(dict.fromkeys(args.metrics)) if args.metrics else _default_metrics(paths, inputs)
    if not metrics:
        raise ConfigError(
            "no metric can be computed from these inputs: give --embedders (and --videos, --captions)"
        )
    _needs(metrics, paths, inputs)
    nets = load_networks(paths, metrics, torch.device(args.device))
    results = evaluate(args, inputs, metrics, nets)
    record = {
        "foleyzoo_version": __version__,
        "command": ["foleyzoo", "eval", *argv],
        "settings": settings_record(args, metrics, paths, nets),
        "pairs": len(inputs.ids),
        "unpaired": {"generated_only": inputs.generated_only, "reference_only": inputs.reference_only},
        "results": results,
        "directions": {name: _direction(name) for name in results},
    }
    print(markdown_table(results))
    print(f"\n{len(inputs.ids)} pairs", end="")
    if inputs.generated_only or inputs.reference_only:
        print(
            f"; unpaired, left out: {len(inputs.generated_only)} generated "
            f"({', '.join(inputs.generated_only[:5])}) and {len(inputs.reference_only)} reference "
            f"({', '.join(inputs.reference_only[:5])})",
            end="",
        )
    print()
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise ConfigError(f"{args.json}: cannot write the results ({exc})") from exc
    return record


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo eval``: 0 on success, 2 with a one-line message on a user error."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0)
    try:
        run(args, argv)
    except FoleyzooError as exc:
        print(f"foleyzoo eval: error: {exc}", file=sys.stderr)
        return 2
    return 0
