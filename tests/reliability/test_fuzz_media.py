"""Fuzzing the media readers: mutated mp4 and WAV bytes may only ever raise foleyzoo's MediaError.

The seeds are small valid files written by foleyzoo's own writers; hypothesis flips, overwrites,
deletes, duplicates and cuts their bytes, and every reader (probe, frames, audio) must either succeed
or raise :class:`~foleyzoo.errors.MediaError`, never a PyAV, soundfile, numpy or Python error. The
run is bounded: a fixed number of examples, no example database, and small windows to decode, so the
whole file stays well under half a minute on two cores.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foleyzoo.errors import MediaError
from foleyzoo.io import media

EXAMPLES = int(os.environ.get("FOLEYZOO_FUZZ_EXAMPLES", "150"))
"""Examples per seed file; raise it (FOLEYZOO_FUZZ_EXAMPLES=5000) for a long local fuzzing session."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # decoding time varies with the mutation; the example count bounds the run
    database=None,  # nothing written into the checkout
    derandomize=True,  # the same examples on every run: a failure in CI reproduces locally
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _seed_video(folder: Path) -> bytes:
    """0.5 s of 16 × 16 H.264 at 12 fps with 0.5 s of AAC, written by foleyzoo's writer (about 3 kB)."""
    path = folder / "seed.mp4"
    frames = (np.arange(6, dtype=np.uint8)[:, None, None, None] * 40).repeat(16, 1).repeat(16, 2).repeat(3, 3)
    t = np.arange(4000) / 8000
    media.write_video(path, frames, 12, (0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32), 8000)
    return path.read_bytes()


def _seed_wav(folder: Path) -> bytes:
    """0.25 s of a stereo tone as float WAV, written by foleyzoo's writer."""
    path = folder / "seed.wav"
    t = np.arange(2000) / 8000
    media.write_wav(path, np.stack([np.sin(2 * np.pi * 300 * t), np.cos(2 * np.pi * 500 * t)]) * 0.4, 8000)
    return path.read_bytes()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz-seeds")
    return {"mp4": _seed_video(folder), "wav": _seed_wav(folder)}


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, int, bytes]]:
    """One to four edits (kind, position, length, bytes) to apply, in order, to a file of ``size`` bytes.

    Positions are biased towards the header (the first 128 bytes), where parsers are most fragile.
    """
    position = st.one_of(st.integers(0, 127), st.integers(0, max(0, size - 1)))
    edit = st.tuples(
        st.sampled_from(["flip", "overwrite", "delete", "insert", "duplicate", "truncate"]),
        position,
        st.integers(1, 64),
        st.binary(min_size=1, max_size=16),
    )
    return draw(st.lists(edit, min_size=1, max_size=4))


def mutate(data: bytes, edits: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply the edits of :func:`mutations` to ``data``."""
    out = bytearray(data)
    for kind, position, length, payload in edits:
        at = min(position, len(out))
        if kind == "flip" and at < len(out):
            out[at] ^= payload[0] or 0xFF
        elif kind == "overwrite":
            out[at : at + len(payload)] = payload
        elif kind == "delete":
            del out[at : at + length]
        elif kind == "insert":
            out[at:at] = payload * (1 + length // 16)
        elif kind == "duplicate":
            out[at:at] = out[at : at + length]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


def read_everything(path: Path) -> None:
    """Every reader the data pipeline uses, on small windows and on the whole file."""
    for call in (
        lambda: media.probe(path),
        lambda: media.read_video_frames(path, 8, (8, 8)),
        lambda: media.read_video_frames(path, 24, (8, 8), start=0.1, duration=0.25),
        lambda: media.read_audio(path, 8000),
        lambda: media.read_audio(path, 16000, channels=2, start=0.05, duration=0.2),
    ):
        try:
            call()
        except MediaError as exc:
            assert str(path) in str(exc), f"the error does not name the file: {exc}"


def test_the_seeds_are_readable(seeds: dict[str, bytes], tmp_path: Path) -> None:
    """The fuzz starts from valid files: every reader that applies succeeds on them."""
    video, wav = tmp_path / "seed.mp4", tmp_path / "seed.wav"
    video.write_bytes(seeds["mp4"])
    wav.write_bytes(seeds["wav"])
    assert media.read_video_frames(video, 8, (8, 8))[0].shape == (4, 3, 8, 8)
    assert media.read_audio(video, 8000).shape == (1, 4000)
    assert media.read_audio(wav, 8000, channels=2).shape == (2, 2000)
    with pytest.raises(MediaError, match="no video stream"):
        media.read_video_frames(wav, 8)


@pytest.mark.parametrize("kind", ["mp4", "wav"])
def test_mutated_media_raise_only_media_error(seeds: dict[str, bytes], tmp_path: Path, kind: str) -> None:
    seed = seeds[kind]
    path = tmp_path / f"fuzzed.{kind}"

    @FUZZ
    @given(edits=mutations(len(seed)))
    def check(edits: list[tuple[str, int, int, bytes]]) -> None:
        path.write_bytes(mutate(seed, edits))
        read_everything(path)  # anything but MediaError propagates and fails the test

    check()


WAV_FIELDS = {  # (offset in the "fmt " chunk, struct format) of the header fields a mutation may hit
    "format": (8, "<H"),
    "channels": (10, "<H"),
    "sample_rate": (12, "<I"),
    "block_align": (20, "<H"),
    "bits": (22, "<H"),
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", 1),
        ("format", 0x55),
        ("format", 0xFFFF),
        ("channels", 0),
        ("channels", 9),
        ("channels", 65535),
        ("sample_rate", 0),
        ("sample_rate", 1),
        ("sample_rate", 0xFFFFFFFF),
        ("block_align", 0),
        ("bits", 0),  # no decoder for it: PyAV gives the stream no codec context
        ("bits", 7),
    ],
)
def test_edge_values_in_wav_header_fields_raise_only_media_error(
    seeds: dict[str, bytes], tmp_path: Path, field: str, value: int
) -> None:
    """The header values random mutation rarely produces, set one at a time."""
    data = bytearray(seeds["wav"])
    chunk = data.find(b"fmt ")
    offset, layout = WAV_FIELDS[field]
    data[chunk + offset : chunk + offset + struct.calcsize(layout)] = struct.pack(layout, value)
    path = tmp_path / f"{field}-{value}.wav"
    path.write_bytes(bytes(data))
    read_everything(path)


def test_a_stream_without_a_decoder_is_named(seeds: dict[str, bytes], tmp_path: Path) -> None:
    data = bytearray(seeds["wav"])
    bits = data.find(b"fmt ") + WAV_FIELDS["bits"][0]
    data[bits : bits + 2] = struct.pack("<H", 0)
    path = tmp_path / "no-decoder.wav"
    path.write_bytes(bytes(data))
    for call in (media.probe, lambda p: media.read_audio(p, 8000)):
        with pytest.raises(MediaError, match="no decoder for its audio stream"):
            call(path)


def test_a_mangled_metadata_tag_does_not_stop_reading(seeds: dict[str, bytes], tmp_path: Path) -> None:
    """The mp4 brand (bytes 8 to 11) is read as a UTF-8 tag; invalid bytes there are replaced, not fatal."""
    data = bytearray(seeds["mp4"])
    data[8] ^= 0xFF
    path = tmp_path / "tag.mp4"
    path.write_bytes(bytes(data))
    assert media.probe(path).has_audio
    assert media.read_audio(path, 8000).shape == (1, 4000)
