"""``foleyzoo generate``: stereo Foley for videos with a bundle: ``<stem>.wav`` and ``<stem>.mp4`` per video.

Inputs are video files, folders of them or CSV manifests (``foleyzoo.data.datasets.read_manifest``); without
``--input``, ``--prompt`` and ``--duration`` make text-to-audio (``<output>/<name>.wav``). Every output is
kept below -1 dBFS unless ``--no-normalize``: by one gain for the whole clip, or by a peak limiter with
``--levels limiter``.
A video in a subfolder (or a manifest id such as ``kitchen/clip3``) writes into the same subfolder of
the output; a name that would leave the output folder (``../x``, an absolute path) is refused before
anything runs. Finished outputs are skipped unless ``--overwrite``; a bad input is reported and skipped
while the rest run, and the exit code says whether any failed (0 all done, 1 some failed, 2 a usage error).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foleyzoo.cli.output import CommandParser, finite_float, positive_float, positive_int
from foleyzoo.errors import ConfigError, FoleyzooError

LEVELS = ("gain", "limiter")
"""``--levels``: ``foleyzoo.pipeline.levels.LEVEL_MODES``, named here so that parsing needs no torch."""

__all__ = ["build_parser", "check_output_name", "collect_inputs", "job_prompt", "main", "output_paths"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="foleyzoo generate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="a bundle folder, or a bundle's name in $FOLEYZOO_HOME"
    )
    parser.add_argument(
        "--input",
        nargs="+",
        default=None,
        metavar="PATH",
        help="video files, folders, manifests (leave out for text-to-audio with --prompt and --duration)",
    )
    parser.add_argument("--output", required=True, help="folder for <stem>.wav and <stem>.mp4 (created)")
    parser.add_argument("--prompt", default=None, help="text to condition on (with the video)")
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help="seconds of audio for text-to-audio (without --input); a video's audio is as long as the video",
    )
    parser.add_argument(
        "--name", default=None, help="text-to-audio output name (default: made from the prompt)"
    )
    parser.add_argument("--negative-prompt", default=None, help="text to steer away from")
    parser.add_argument(
        "--steps", type=positive_int, default=None, help="sampler steps (default: the bundle's)"
    )
    parser.add_argument(
        "--cfg", type=finite_float, default=None, help="guidance scale (default: the bundle's)"
    )
    parser.add_argument("--seed", type=_seed, default=0, help="noise seed, 0 to 2**64 - 1 (default: 0)")
    parser.add_argument(
        "--sampler",
        default=None,
        help="a registered sampler's name, e.g. EulerSampler (default: the bundle's)",
    )
    parser.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), or a torch device")
    parser.add_argument("--overwrite", action="store_true", help="generate again where outputs exist")
    parser.add_argument("--no-mux", action="store_true", help="write only the .wav files")
    parser.add_argument(
        "--mono", action="store_true", help="one channel, as the codec decodes it (no stereo rendering)"
    )
    parser.add_argument(
        "--levels",
        choices=LEVELS,
        default="gain",
        help="how every sample is kept below -1 dBFS: one gain for the whole clip (default: transients keep "
        "their shape) or a peak limiter (lowers the gain around the loud samples only: long files keep their "
        "level)",
    )
    parser.add_argument(
        "--no-normalize",
        action="store_true",
        help="write the raw levels, which may pass full scale (by default they are kept below -1 dBFS)",
    )
    return parser


def _seed(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**64 - 1, got {text}")
    return value


@dataclass(frozen=True)
class Job:
    """One video to generate for and where its outputs go: ``<output>/<stem>.wav`` (stems are unique
    within a run and may name a subfolder, as ``kitchen/clip3`` does)."""

    video: Path
    stem: str
    caption: str = ""


def collect_inputs(paths: list[str]) -> list[Job]:
    """Video files, the videos of folders, and the rows of CSV manifests, in order, without duplicates."""
    from foleyzoo.data.datasets import VIDEO_EXTENSIONS, read_manifest, scan_video_folder

    jobs: list[Job] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            jobs += [Job(ref.path, ref.id, ref.caption) for ref in scan_video_folder(path)]
        elif path.suffix.lower() == ".csv":
            jobs += [Job(ref.path, ref.id, ref.caption) for ref in read_manifest(path)]
        elif path.suffix.lower() in VIDEO_EXTENSIONS or path.exists():
            jobs.append(Job(path, path.stem))
        else:
            raise ConfigError(f"{path}: no such file or folder")
    seen: dict[str, Path] = {}
    for job in jobs:
        check_output_name(job.stem, job.video)
        if job.stem in seen and seen[job.stem] != job.video:
            raise ConfigError(f"{job.video} and {seen[job.stem]} would both write {job.stem}.wav; rename one")
        seen[job.stem] = job.video
    return list({job.stem: job for job in jobs}.values())


def check_output_name(stem: str, source: Path) -> None:
    """Refuse an output name (from a manifest id or a file name) that could write outside the output folder.

    Allowed: relative names of plain parts (``clip3``, ``kitchen/clip3``). Refused with a ConfigError
    naming ``source``, the name and the problem: see :func:`_name_problem`.
    """
    problem = _name_problem(stem)
    if problem is not None:
        raise ConfigError(
            f"{source}: output name {stem!r} {problem}; refused, outputs must stay inside the output "
            "folder (rename the file or fix its id in the manifest)"
        )


def _name_problem(stem: str) -> str | None:
    """Why ``stem`` cannot name files inside the output folder, or None when it can."""
    if not stem.strip() or "\0" in stem:
        return "is empty or holds a NUL byte"
    if stem.startswith("/") or _DRIVE.match(stem):
        return "is an absolute path or starts with a drive letter"
    if "\\" in stem:
        return "holds a backslash (a folder separator on Windows)"
    if any(part in ("", ".", "..") for part in stem.split("/")):
        return "has '.', '..' or empty path parts"
    return None


NAME_BYTES = 255
"""The longest file or folder name most file systems take (ext4, APFS, NTFS: 255)."""
OUTPUT_SUFFIXES = (".wav", ".mp4")


def output_paths(output: Path, stem: str, source: Path) -> tuple[Path, Path]:
    """``(<output>/<stem>.wav, <output>/<stem>.mp4)``, each checked to resolve inside ``output``.

    The lexical check (:func:`check_output_name`) already ran; resolving also catches a symbolic link
    inside the output folder (a subfolder, or the output file itself) that points out of it.
    """
    paths = tuple(output / f"{stem}{suffix}" for suffix in OUTPUT_SUFFIXES)
    root = os.path.realpath(output)
    for path in paths:
        if os.path.commonpath([root, os.path.realpath(path)]) != root:
            raise ConfigError(f"{source}: its output {path} resolves outside the output folder {output}")
    return paths[0], paths[1]


def name_conflicts(jobs: list[Job]) -> dict[str, str]:
    """Stem → why its outputs cannot be written, for names too long for a file system or whose folder
    is another job's file (ids ``a`` and ``a.wav/b``); checked before any work so no job is lost."""
    files = {f"{job.stem}{suffix}": job for job in jobs for suffix in OUTPUT_SUFFIXES}
    problems: dict[str, str] = {}
    for job in jobs:
        longest = max(len(part.encode()) for part in job.stem.split("/")) + len(OUTPUT_SUFFIXES[0])
        if longest > NAME_BYTES:
            problems[job.stem] = (
                f"output name {job.stem[:40]!r}… has a part of {longest} bytes with its suffix; file names "
                f"are limited to {NAME_BYTES} bytes (shorten the file name or its manifest id)"
            )
            continue
        parts = job.stem.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in files:
                other = files[folder]
                problems[job.stem] = (
                    f"output name {job.stem!r} needs a folder {folder!r} where {other.video} writes a "
                    "file; rename one of them"
                )
                break
    return problems


def finished_outputs(wav: Path, mp4: Path | None, seconds: float, sample_rate: int) -> bool:
    """Whether an earlier run finished these outputs: the WAV parses and holds exactly the video's length,
    and the mp4 (when wanted) parses with a picture, sound and the video's duration. A file cut by a
    kill, or one of another length, counts as unfinished and is generated again."""
    import soundfile as sf

    from foleyzoo.io.media import probe, read_audio, read_video_frames

    try:
        info = sf.info(str(wav))
        if info.samplerate != sample_rate or info.frames != round(seconds * sample_rate):
            return False
        if mp4 is None:
            return True
        muxed = probe(mp4)
        if not (muxed.has_video and muxed.has_audio and abs(muxed.duration - seconds) <= MUX_TOLERANCE):
            return False
        tail = max(0.0, muxed.duration - TAIL_SECONDS)  # an mp4 cut short still declares its duration
        read_audio(mp4, sample_rate, 1, tail, muxed.duration - tail)
        read_video_frames(mp4, muxed.fps or 1.0, (16, 16), tail, muxed.duration - tail)
    except (FoleyzooError, RuntimeError, OSError):
        return False
    return True


MUX_TOLERANCE = 0.05
"""Seconds a muxed file's duration may differ from its video's (AAC frames and rounding)."""
TAIL_SECONDS = 0.25
"""The end of a muxed file that is decoded to check that its data is all there."""


def job_prompt(prompt: str | None, caption: str) -> str | None:
    """The text a job is conditioned on: ``--prompt``, else its caption; None when both are missing or
    blank, so that the model conditions on its learned text placeholder rather than on an empty string."""
    text = (prompt or "").strip() or caption.strip()
    return text or None


def _sampler(name: str | None):
    if name is None:
        return None
    from foleyzoo.plugins.registry import load_plugins

    sampler_class = load_plugins().get("foleyzoo.samplers", name)
    return sampler_class()


def check_request(args: argparse.Namespace) -> None:
    """Refuse a combination of options that cannot run, before anything is loaded."""
    if args.input is None:
        if not (args.prompt or "").strip() or args.duration is None:
            raise ConfigError(
                "give --input VIDEO... (video-to-audio), or --prompt TEXT with --duration SECONDS "
                "(text-to-audio)"
            )
    elif args.duration is not None:
        raise ConfigError(
            "--duration is for text-to-audio (no --input): a video's audio is as long as the video"
        )
    elif args.name is not None:
        raise ConfigError(
            "--name names text-to-audio output; with --input, outputs are named after the videos"
        )


def prompt_name(prompt: str) -> str:
    """A file name made from a prompt: lower case words joined by dashes, at most 60 characters."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    return "-".join(words)[:60].strip("-") or "generated"


def run(args: argparse.Namespace) -> tuple[int, int, int]:
    """Generate for every input (or the one text-to-audio request); returns (written, skipped, failed)."""
    from rich.markup import escape

    from foleyzoo.cli.output import console
    from foleyzoo.cli.progress import GenerationDisplay
    from foleyzoo.io.media import mux_audio, write_wav
    from foleyzoo.pipeline import FoleyPipeline
    from foleyzoo.pipeline.home import resolve_bundle

    check_request(args)
    if args.input is None:
        return _text_to_audio(args, resolve_bundle(args.model), make_output_folder(Path(args.output)))
    jobs = collect_inputs(args.input)
    bundle = resolve_bundle(args.model)
    output = make_output_folder(Path(args.output))
    targets = {job.stem: output_paths(output, job.stem, job.video) for job in jobs}  # all before any work
    refused = name_conflicts(jobs)
    pipeline = FoleyPipeline.from_bundle(bundle, device=args.device)
    sampling = sampling_options(args)
    errors = console(stderr=True)
    written = skipped = failed = 0
    with GenerationDisplay(len(jobs), errors) as display:
        for job in jobs:
            wav, mp4 = targets[job.stem]
            display.start(job.stem)
            try:
                if job.stem in refused:
                    raise ConfigError(f"{job.video}: {refused[job.stem]}")
                if not args.overwrite and _already_done(job, wav, None if args.no_mux else mp4, pipeline):
                    skipped += 1
                    display.finish("skipped (already there)")
                    continue
                audio = pipeline.generate(
                    job.video,
                    prompt=job_prompt(args.prompt, job.caption),
                    progress=display.update,
                    **sampling,
                )
                samples = audio.samples.numpy()
                wav.parent.mkdir(parents=True, exist_ok=True)
                write_wav(wav, samples, audio.sample_rate)
                if not args.no_mux:
                    mux_audio(job.video, samples, audio.sample_rate, mp4)
                written += 1
                display.finish("written")
            except (FoleyzooError, OSError) as exc:
                failed += 1
                message = exc if isinstance(exc, FoleyzooError) else f"cannot write its outputs ({exc})"
                display.finish("failed")
                errors.print(f"[red]failed[/red] {escape(f'{job.video}: {message}')}", highlight=False)
    return written, skipped, failed


def sampling_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``FoleyPipeline.generate`` options every request of a run shares, from the command line."""
    return {
        "negative_prompt": args.negative_prompt,
        "steps": args.steps,
        "cfg": args.cfg,
        "seed": args.seed,
        "sampler": _sampler(args.sampler),
        "mono": args.mono,
        "normalize": not args.no_normalize,
        "levels": args.levels,
    }


def _text_to_audio(args: argparse.Namespace, bundle: Path, output: Path) -> tuple[int, int, int]:
    """``--prompt`` and ``--duration`` without a video: one ``<output>/<name>.wav``."""
    from foleyzoo.cli.output import console
    from foleyzoo.cli.progress import GenerationDisplay
    from foleyzoo.pipeline import FoleyPipeline

    name = args.name or prompt_name(args.prompt)
    check_output_name(name, Path(f"--name {name}"))
    wav = output_paths(output, name, Path(name))[0]
    if wav.exists() and not args.overwrite:
        return 0, 1, 0
    pipeline = FoleyPipeline.from_bundle(bundle, device=args.device)
    with GenerationDisplay(1, console(stderr=True)) as display:
        display.start(name)
        audio = pipeline.generate(
            None,
            prompt=args.prompt,
            duration=args.duration,
            progress=display.update,
            **sampling_options(args),
        )
        audio.save(wav)
        display.finish("written")
    return 1, 0, 0


def make_output_folder(output: Path) -> Path:
    """Create the ``--output`` folder; one clear error when it names a file or cannot be created."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output}: is a file, not a folder; name a folder for the outputs")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot create the folder ({exc.strerror or exc})") from exc
    if not os.access(output, os.W_OK | os.X_OK):
        raise ConfigError(f"--output {output}: the folder is not writable")
    return output


def _already_done(job: Job, wav: Path, mp4: Path | None, pipeline) -> bool:
    """Whether both outputs of ``job`` exist whole (see :func:`finished_outputs`)."""
    from foleyzoo.io.media import probe

    if not wav.is_file() or (mp4 is not None and not mp4.is_file()):
        return False
    return finished_outputs(wav, mp4, probe(job.video).duration, pipeline.codec.sample_rate)


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo generate``: 0 all done, 1 when an input failed, 2 on a usage error."""
    args = build_parser().parse_args(argv)
    try:
        written, skipped, failed = run(args)
    except FoleyzooError as exc:
        print(f"foleyzoo generate: error: {exc}", file=sys.stderr)
        return 2
    print(f"{written} written, {skipped} skipped (already there), {failed} failed → {args.output}")
    return 1 if failed else 0
