"""Small real videos with known content for the dataset and cache tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def make_video(path: Path, seconds: float, fps: float = 30.0, size: int = 32, freq: float = 440.0,
               sample_rate: int = 16000) -> Path:  # fmt: skip
    """Frame k is a flat gray of brightness 8·k (mod 256); the audio is a sine at ``freq``."""
    count = round(seconds * fps)
    levels = (np.arange(count) * 8 % 256).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (count, size, size, 3)).copy()
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    audio = (0.3 * np.sin(2 * np.pi * freq * t))[None].astype(np.float32)
    from foleyzoo.io.media import write_video

    write_video(path, frames, fps, audio, sample_rate)
    return path


@pytest.fixture(scope="session")
def video_folder(tmp_path_factory) -> Path:
    """Six clips of 1.0 to 2.0 s, two with caption sidecars, one in a subfolder."""
    root = tmp_path_factory.mktemp("videos")
    (root / "sub").mkdir()
    for index in range(6):
        name = f"sub/clip{index}.mp4" if index == 5 else f"clip{index}.mp4"
        make_video(root / name, seconds=1.0 + 0.2 * index, freq=300.0 + 100 * index)
    (root / "clip0.txt").write_text("a bell\n")
    (root / "clip1.json").write_text('{"caption": "a wooden knock"}')
    return root
