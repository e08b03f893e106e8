"""Peak memory of ``foleyzoo synth score`` and ``foleyzoo codec reconstruct`` on an hour-long file.

    python benchmarks/long_input_memory.py [--hours 1] [--checkpoint CODEC.ckpt] \
        [--json benchmarks/results/long_input_memory.json]

Both commands read only what they need: the scorer decodes each clip's span of a generated file, and the
codec reads, codes and writes a long file a chunk at a time (``--chunk-seconds``). This script writes an
hour of 16 kHz stereo float audio (460 MB) beside a 4 s SynthFoley clip, runs each command in a fresh
process on the hour-long file and on a file of the clip's length, and prints the peak resident memory of
each run: bounded memory means the two are about the same. Without ``--checkpoint`` it fits the tiny
codec recipe for two steps to have a codec (its quality does not matter here).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import REPO_ROOT, machine, markdown_table, write_json

PEAK_PROBE = (
    "import json, resource, sys\n"
    "from foleyzoo.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'peak_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),"
    " file=sys.stderr)\n"
)


def peak_of(args: list[str]) -> tuple[float, float]:
    """(peak resident memory in MiB, seconds) of ``foleyzoo ARGS`` run in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    report = json.loads(done.stderr.strip().splitlines()[-1])
    if report["code"] != 0:
        raise SystemExit(f"foleyzoo {' '.join(args)} failed:\n{done.stderr}")
    return report["peak_kib"] / 1024, seconds


def write_long_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    """A stereo float WAV of quiet noise, written a minute at a time (this script stays small too)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", rate, 2, subtype="FLOAT", format="WAV") as handle:
        left = round(seconds * rate)
        while left > 0:
            block = min(left, 60 * rate)
            handle.write((0.05 * rng.standard_normal((block, 2))).astype(np.float32))
            left -= block


def tiny_codec(folder: Path) -> Path:
    """A codec checkpoint: the tiny codec recipe (its full width) fitted for two steps on four clips."""
    recipe = REPO_ROOT / "recipes" / "codec" / "melvae-tiny-16k.yaml"
    args = [
        "fit",
        "--config",
        str(recipe),
        f"--trainer.default_root_dir={folder}",
        "--trainer.max_steps=2",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.limit_val_batches=1",
        "--trainer.check_val_every_n_epoch=1",
        "--trainer.callbacks="
        + json.dumps(
            [{"class_path": "ModelCheckpoint", "init_args": {"dirpath": f"{folder}/ckpt", "save_last": True}}]
        ),
        "--data.init_args.num_train=4",
        "--data.init_args.num_val=2",
        "--data.init_args.batch_size=2",
        "--data.init_args.clip_duration=1.0",
        "--data.init_args.corpus_dir=null",
    ]
    subprocess.run([sys.executable, "-m", "foleyzoo", *args], check=True, capture_output=True)
    return folder / "ckpt" / "last.ckpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument(
        "--checkpoint", help="a codec checkpoint of `foleyzoo fit` (default: fit the tiny one)"
    )
    parser.add_argument("--json", default="benchmarks/results/long_input_memory.json")
    args = parser.parse_args()
    from foleyzoo.synthfoley.generator import generate_clip

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clips, short, long = root / "clips", root / "short", root / "long"
        for folder in (clips, short, long):
            folder.mkdir()
        clip = generate_clip((7, 0))
        (clips / "c0.json").write_text(json.dumps(clip.spec.to_json()))
        sf.write(str(short / "c0.wav"), clip.clean_audio.T, 16000, subtype="FLOAT")
        write_long_wav(long / "c0.wav", args.hours * 3600)
        checkpoint = args.checkpoint or str(tiny_codec(root / "codec"))
        rows = []
        for label, folder in (("clip length", short), (f"{args.hours:g} h", long)):
            peak, seconds = peak_of(["synth", "score", "--clips", str(clips), "--generated", str(folder)])
            rows.append({"command": "synth score", "input": label, "peak_mib": peak, "seconds": seconds})
            out = root / f"out-{folder.name}"
            peak, seconds = peak_of(
                [
                    "codec",
                    "reconstruct",
                    "--checkpoint",
                    checkpoint,
                    str(folder / "c0.wav"),
                    "--output",
                    str(out),
                ]
            )
            rows.append(
                {"command": "codec reconstruct", "input": label, "peak_mib": peak, "seconds": seconds}
            )
            print(f"{label}: done", flush=True)
    table = [
        [row["command"], row["input"], f"{row['peak_mib']:.0f}", f"{row['seconds']:.1f}"] for row in rows
    ]
    print(markdown_table(["command", "input", "peak RSS (MiB)", "seconds"], table, right={2, 3}))
    write_json(args.json, {"machine": machine(), "hours": args.hours, "rows": rows})


if __name__ == "__main__":
    main()
