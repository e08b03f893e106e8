"""Clips per second: decoding SynthFoley videos (and running the frozen encoders) vs reading the feature cache.

    python benchmarks/data_throughput.py [--clips 16] [--size 224] [--json benchmarks/results/data_throughput.json]

Prints a table and writes JSON with every setting, so the numbers can be reproduced from the file.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from foleyzoo.data.cache import CacheDataset, FeatureEncoders, encode_item, extract_features
from foleyzoo.data.clips import ClipFormat
from foleyzoo.data.datasets import ClipDataset, scan_video_folder
from foleyzoo.encoders.sync import TinySync3DCNN
from foleyzoo.encoders.text import ByteTextEncoder
from foleyzoo.encoders.visual import TinyVisualCNN
from foleyzoo.synthfoley.generator import generate_clip, write_clip


def per_clip_seconds(read, count: int, repeats: int) -> float:
    """Best-of-``repeats`` mean seconds to read ``count`` items with ``read(i)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for index in range(count):
            read(index)
        best = min(best, (time.perf_counter() - start) / count)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument(
        "--size", type=int, default=224, help="frame size the encoders take (Kling-Foley: 224)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/data_throughput.json"))
    options = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    torch.manual_seed(0)

    size = (options.size, options.size)
    fmt = ClipFormat(visual_fps=8.0, visual_size=size, sync_fps=24.0, sync_size=size, sample_rate=16000)
    encoders = FeatureEncoders(TinyVisualCNN().eval(), TinySync3DCNN().eval(), ByteTextEncoder().eval())
    with tempfile.TemporaryDirectory() as tmp:
        videos, cache_dir = Path(tmp) / "videos", Path(tmp) / "cache"
        for index in range(options.clips):
            write_clip(videos, f"clip_{index}", generate_clip((0, index)))
        decoded = ClipDataset(scan_video_folder(videos), fmt)
        extract_features(decoded, encoders, fmt, cache_dir)
        cache = CacheDataset(cache_dir)
        decode = per_clip_seconds(lambda i: decoded[i], options.clips, options.repeats)
        decode_encode = per_clip_seconds(
            lambda i: encode_item(decoded[i], encoders, fmt), options.clips, options.repeats
        )
        cached = per_clip_seconds(lambda i: cache[i], options.clips, options.repeats)
    generate = per_clip_seconds(lambda i: generate_clip((1, i)), options.clips, options.repeats)

    rows = [
        ("generate a SynthFoley clip in memory (no files)", generate),
        ("decode video (visual 8 fps + sync 24 fps + audio)", decode),
        ("decode video + run frozen encoders", decode_encode),
        ("read the feature cache", cached),
    ]
    print(
        f"| path ({options.clips} SynthFoley clips of 4 s, frames {options.size} px) | ms / clip | clips / s |"
    )
    print("| --- | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.2f} | {1 / seconds:.1f} |")
    print(
        f"\ncache speed-up: {decode / cached:.0f}x over decoding, {decode_encode / cached:.0f}x over decoding + encoding"
    )

    result = {
        "settings": {**vars(options), "json": str(options.json), "torch_threads": torch.get_num_threads()},
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "seconds_per_clip": {
            "generate_in_memory": generate,
            "decode": decode,
            "decode_and_encode": decode_encode,
            "cache": cached,
        },
        "speedup": {"over_decode": decode / cached, "over_decode_and_encode": decode_encode / cached},
    }
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(result, indent=2))
    print(f"wrote {options.json}")


if __name__ == "__main__":
    main()
