"""``foleyzoo generate``: stereo Foley for videos with a bundle: ``<stem>.wav`` and ``<stem>.mp4`` per video.

Inputs are video files, folders of them or CSV manifests (``foleyzoo.data.datasets.read_manifest``).
Finished outputs are skipped unless ``--overwrite``; a bad input is reported and skipped while the rest
run, and the exit code says whether any failed (0 all done, 1 some failed, 2 a usage error).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from foleyzoo.errors import ConfigError, FoleyzooError

__all__ = ["build_parser", "collect_inputs", "main"]


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
    """One video to generate for and where its outputs go (stems are unique within a run)."""

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
        safe = Path(job.stem).name
        if safe != job.stem or job.stem in ("", ".", ".."):
            raise ConfigError(f"{job.video}: its output name {job.stem!r} would leave the output folder")
        if job.stem in seen and seen[job.stem] != job.video:
            raise ConfigError(f"{job.video} and {seen[job.stem]} would both write {job.stem}.wav; rename one")
        seen[job.stem] = job.video
    return list({job.stem: job for job in jobs}.values())


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
    pipeline = FoleyPipeline.from_bundle(resolve_model(args.model), device=args.device)
    sampler = _sampler(args.sampler)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    errors = console(stderr=True)
    written = skipped = failed = 0
    with Progress(console=errors, transient=False) as progress:
        task = progress.add_task("generating", total=len(jobs))
        for job in jobs:
            wav, mp4 = output / f"{job.stem}.wav", output / f"{job.stem}.mp4"
            done = wav.is_file() and (args.no_mux or mp4.is_file())
            if done and not args.overwrite:
                skipped += 1
                progress.advance(task)
                continue
            try:
                audio = pipeline.generate(
                    job.video,
                    prompt=args.prompt or job.caption or None,
                    negative_prompt=args.negative_prompt,
                    steps=args.steps,
                    cfg=args.cfg,
                    seed=args.seed,
                    sampler=sampler,
                )
                samples = audio.samples.numpy()
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
