"""MMAudio's way of reading frames as an option of read_video_frames: the first frame at or after each
instant (instants summed one step at a time), and torchvision's 8-bit antialiased bicubic resize.

The reference here decodes every frame with PyAV and applies that rule directly.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from foleyzoo.io.frames import accumulated_instants
from foleyzoo.io.media import read_video_frames, write_video


@pytest.fixture(scope="module")
def moving_square(tmp_path_factory):
    """3 s at 25 fps, 96 × 72 (4:3): a bright square moving right on a gradient, every frame different."""
    frames = np.zeros((75, 72, 96, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(0, 200, 96, dtype=np.uint8)[None, None, :]
    frames[..., 2] = np.linspace(0, 120, 72, dtype=np.uint8)[None, :, None]
    for k in range(75):
        frames[k, 20:40, k : k + 20, 1] = 255
    path = tmp_path_factory.mktemp("video") / "square.mp4"
    write_video(path, frames, fps=25.0)
    return path


def decoded(path) -> list[tuple[float, torch.Tensor]]:
    with av.open(str(path)) as container:
        return [
            (frame.time, torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1))
            for frame in container.decode(video=0)
        ]


def first_at_or_after(frames, fps: float, count: int) -> list[torch.Tensor]:
    picked, instants = [], accumulated_instants(0.0, fps, count)
    for instant in instants:
        picked.append(next(image for time, image in frames if time >= instant))
    return picked


@pytest.mark.parametrize("fps", [8.0, 25.0])
def test_next_pick_with_a_bicubic_squash_is_mmaudios_clip_frames(moving_square, fps):
    count = int(2.0 * fps)
    frames, times = read_video_frames(
        moving_square, fps, size=(48, 48), duration=2.0, pick="next", resize="bicubic"
    )
    expected = [
        TF.resize(image, [48, 48], interpolation=InterpolationMode.BICUBIC, antialias=True)
        for image in first_at_or_after(decoded(moving_square), fps, count)
    ]
    assert frames.shape == (count, 3, 48, 48)
    assert torch.equal(frames, torch.stack(expected).float() / 255.0)
    assert times.tolist() == accumulated_instants(0.0, fps, count)


def test_crop_fit_resizes_the_shorter_side_and_centre_crops_as_synchformers_input(moving_square):
    frames, _ = read_video_frames(
        moving_square, 25.0, size=(32, 32), duration=1.0, pick="next", resize="bicubic", fit="crop"
    )
    expected = [
        TF.center_crop(
            TF.resize(image, 32, interpolation=InterpolationMode.BICUBIC, antialias=True), [32, 32]
        )
        for image in first_at_or_after(decoded(moving_square), 25.0, 25)
    ]
    assert torch.equal(frames, torch.stack(expected).float() / 255.0)


def test_summed_instants_take_the_next_frame_where_a_frame_sits_exactly_on_the_instant(moving_square):
    """At 25 fps on a 25 fps video, instant 6 sums to 0.24000000000000002 > 0.24: frame 7 is shown, not 6."""
    latest, _ = read_video_frames(moving_square, 25.0, duration=1.0)
    following, _ = read_video_frames(moving_square, 25.0, duration=1.0, pick="next")
    source = decoded(moving_square)
    assert torch.equal(latest[6], source[6][1].float() / 255.0)
    assert torch.equal(following[6], source[7][1].float() / 255.0)
    assert torch.equal(following[5], source[5][1].float() / 255.0)  # 5 · 0.04 sums to 0.2 exactly


def test_the_default_is_unchanged(moving_square):
    frames, times = read_video_frames(moving_square, 8.0, size=(36, 48), duration=1.0)
    source = decoded(moving_square)
    assert times.tolist() == [k / 8 for k in range(8)]
    assert frames.shape == (8, 3, 36, 48)
    # instant 3/8 = 0.375 s shows frame 9 (0.36 s), the latest at or before it
    with av.open(str(moving_square)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 9:
                expected = frame.to_ndarray(format="rgb24", width=48, height=36)
                break
    assert torch.equal(frames[3], torch.from_numpy(expected).permute(2, 0, 1).float() / 255.0)
    assert len(source) == 75


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pick": "nearest"}, "pick must be one of latest, next"),
        ({"resize": "lanczos"}, "resize must be one of bilinear, bicubic"),
        ({"fit": "crop"}, "fit='crop'"),
    ],
)
def test_unknown_reading_options_are_refused(moving_square, options, message):
    with pytest.raises(ValueError, match=message):
        read_video_frames(moving_square, 8.0, size=(32, 32), **options)
