"""``foleyzoo generate``: stereo Foley for videos with a bundle: ``<stem>.wav`` and ``<stem>.mp4`` per video.

Inputs are video files, folders of them or CSV manifests (``foleyzoo.data.datasets.read_manifest``).
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

from foleyzoo.errors import ConfigError, FoleyzooError

__all__ = ["build_parser", "check_output_name", "collect_inputs", "job_prompt", "main", "output_paths"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foleyzoo generate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="a bundle folder, or a bundle's name in $FOLEYZOO_HOME"
    )
    parser.add_argument(
        "--input", nargs="+", required=True, metavar="PATH", help="video files, folders, manifests"
    )
    parser.add_argument("--output", required=True, help="folder for <stem>.wav and <stem>.mp4 (created)")
    parser.add_argument("--prompt", default=None, help="text to condition on (with the video)")
    parser.add_argument("--negative-prompt", default=None, help="text to steer away from")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the bundle's)")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default: the bundle's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", default=None, help="a registered sampler's name, e.g. EulerSampler")
    parser.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), or a torch device")
    parser.add_argument("--overwrite", action="store_true", help="generate again where outputs exist")
    parser.add_argument("--no-mux", action="store_true", help="write only the .wav files")
    return parser


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


def output_paths(output: Path, stem: str, source: Path) -> tuple[Path, Path]:
    """``(<output>/<stem>.wav, <output>/<stem>.mp4)``, checked to resolve inside ``output``.

    The lexical check (:func:`check_output_name`) already ran; resolving also catches a symbolic link
    inside the output folder that points out of it.
    """
    wav, mp4 = output / f"{stem}.wav", output / f"{stem}.mp4"
    root = os.path.realpath(output)
    if os.path.commonpath([root, os.path.realpath(wav)]) != root:
        raise ConfigError(f"{source}: its output {wav} resolves outside the output folder {output}")
    return wav, mp4


def job_prompt(prompt: str | None, caption: str) -> str | None:
    """The text a job is conditioned on: ``--prompt``, else its caption; None when both are missing or
    blank, so that the model conditions on its learned text placeholder rather than on an empty string."""
    text = (prompt or "").strip() or caption.strip()
    return text or None


def resolve_model(name: str) -> Path:
    """A bundle folder given by path, or by name from the local model folder."""
    from foleyzoo.cli.models_cmd import model_home

    path = Path(name)
    if path.is_dir():
        return path
    candidate = model_home() / name
    if candidate.is_dir():
        return candidate
    raise ConfigError(
        f"{name}: neither a bundle folder nor a model in {model_home()} (see `foleyzoo models`)"
    )


def _sampler(name: str | None):
    if name is None:
        return None
    from foleyzoo.plugins.registry import load_plugins

    sampler_class = load_plugins().get("foleyzoo.samplers", name)
    return sampler_class()


def run(args: argparse.Namespace) -> tuple[int, int, int]:
    """Generate for every input; returns (written, skipped, failed)."""
    from rich.progress import Progress

    from foleyzoo.cli.output import console
    from foleyzoo.data.media import mux_audio, write_wav
    from foleyzoo.pipeline import FoleyPipeline

    jobs = collect_inputs(args.input)
    bundle = resolve_model(args.model)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    targets = {job.stem: output_paths(output, job.stem, job.video) for job in jobs}  # all before any work
    pipeline = FoleyPipeline.from_bundle(bundle, device=args.device)
    sampler = _sampler(args.sampler)
    errors = console(stderr=True)
    written = skipped = failed = 0
    with Progress(console=errors, transient=False) as progress:
        task = progress.add_task("generating", total=len(jobs))
        for job in jobs:
            wav, mp4 = targets[job.stem]
            done = wav.is_file() and (args.no_mux or mp4.is_file())
            if done and not args.overwrite:
                skipped += 1
                progress.advance(task)
                continue
            try:
                audio = pipeline.generate(
                    job.video,
                    prompt=job_prompt(args.prompt, job.caption),
                    negative_prompt=args.negative_prompt,
                    steps=args.steps,
                    cfg=args.cfg,
                    seed=args.seed,
                    sampler=sampler,
                )
                samples = audio.samples.numpy()
                wav.parent.mkdir(parents=True, exist_ok=True)
                write_wav(wav, samples, audio.sample_rate)
                if not args.no_mux:
                    mux_audio(job.video, samples, audio.sample_rate, mp4)
                written += 1
            except FoleyzooError as exc:
                failed += 1
                errors.print(f"[red]failed[/red] {job.video}: {exc}", highlight=False)
            progress.advance(task)
    return written, skipped, failed


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
