"""Media I/O: frames and audio survive an mp4 round trip aligned, rates convert, remuxing copies video.

The test video shows its frame index as six black/white stripes (a binary code that survives H.264)
and carries a stereo tone that starts at a known instant, so alignment is measured, not assumed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from foleyzoo.errors import MediaError
from foleyzoo.io import media

FPS = 30
SECONDS = 2.0
FRAMES = round(FPS * SECONDS)
SR = 16000
TONE_START = 0.5  # s: the tone (L 0.5, R 0.25 amplitude) starts here, silence before
BITS = 6
HEIGHT, WIDTH = 48, 64


def code_frame(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """An RGB frame whose six vertical stripes spell ``index`` in binary (white = 1, MSB on the left)."""
    bits = [(index >> (BITS - 1 - b)) & 1 for b in range(BITS)]
    row = np.repeat(np.asarray(bits, dtype=np.uint8) * 255, width // BITS)
    row = np.pad(row, (0, width - len(row)), mode="edge")
    return np.broadcast_to(row[None, :, None], (height, width, 3)).copy()


def read_codes(frames: torch.Tensor) -> list[int]:
    """Decode the stripe code of each (3, H, W) frame (stripe centres, brightness above one half)."""
    width = frames.shape[-1]
    stripe = width / BITS
    centres = [int((b + 0.5) * stripe) for b in range(BITS)]
    bits = frames[:, :, frames.shape[-2] // 2, centres].mean(dim=1) > 0.5  # (T, BITS)
    weights = torch.tensor([1 << (BITS - 1 - b) for b in range(BITS)])
    return (bits.long() * weights).sum(dim=1).tolist()


def tone(seconds: float, start: float, sample_rate: int = SR, freq: float = 440.0) -> np.ndarray:
    """Stereo (2, N): a sine starting at ``start`` with amplitude 0.5 left and 0.25 right."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = np.where(t >= start, np.sin(2 * np.pi * freq * (t - start)), 0.0)
    return np.stack([0.5 * wave, 0.25 * wave]).astype(np.float32)


def first_loud(samples: np.ndarray, level: float = 0.05) -> int:
    """Index of the first sample whose magnitude exceeds ``level``."""
    return int(np.argmax(np.abs(samples) > level))


@pytest.fixture(scope="module")
def coded_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s at 30 fps, 64 × 48, frame k coded with k, with the tone of :func:`tone` as AAC."""
    path = tmp_path_factory.mktemp("media") / "coded.mp4"
    frames = np.stack([code_frame(k) for k in range(FRAMES)])
    media.write_video(path, frames, FPS, tone(SECONDS, TONE_START), SR)
    return path


# --------------------------------------------------------------------------- video


def test_frames_round_trip_at_native_rate(coded_video: Path) -> None:
    frames, times = media.read_video_frames(coded_video, FPS)
    assert frames.shape == (FRAMES, 3, HEIGHT, WIDTH) and frames.dtype == torch.float32
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    assert read_codes(frames) == list(range(FRAMES))
    assert torch.allclose(times, torch.arange(FRAMES, dtype=torch.float64) / FPS)


def test_30fps_sampled_at_24fps_shows_the_latest_frame_before_each_instant(coded_video: Path) -> None:
    frames, times = media.read_video_frames(coded_video, 24)
    assert len(frames) == 48
    # instant k/24 s falls in source frame floor(k · 30 / 24); exact ties (every 4th) belong to the new frame
    assert read_codes(frames) == [k * 30 // 24 for k in range(48)]
    assert torch.allclose(times, torch.arange(48, dtype=torch.float64) / 24)


def test_window_has_exact_length_and_holds_the_last_frame_past_the_end(coded_video: Path) -> None:
    frames, times = media.read_video_frames(coded_video, 24, start=0.5, duration=0.5)
    assert read_codes(frames) == [int((0.5 + k / 24) * 30 + 1e-9) for k in range(12)]
    assert times[0] == pytest.approx(0.5)
    tail, _ = media.read_video_frames(coded_video, 24, start=1.9, duration=0.5)
    assert read_codes(tail) == [57, 58, 59] + [59] * 9


def test_upsampling_repeats_frames_and_resizing_keeps_content(coded_video: Path) -> None:
    frames, _ = media.read_video_frames(coded_video, 60, size=(24, 32), duration=0.5)
    assert frames.shape == (30, 3, 24, 32)
    assert read_codes(frames) == [k // 2 for k in range(30)]


def test_variable_frame_rate_input(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    stamps_ms = [0, 10, 50, 200, 210, 400, 700, 1000]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, stamp in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(code_frame(index), format="rgb24")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    frames, times = media.read_video_frames(path, 10)
    expected = [max(i for i, s in enumerate(stamps_ms) if s <= round(1000 * t)) for t in times.tolist()]
    assert read_codes(frames) == expected
    assert times[-1] == pytest.approx(1.0)  # the last frame (at 1.0 s) is reached


def test_odd_sizes_are_padded_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    media.write_video(path, np.full((3, 21, 33, 3), 200, np.uint8), 24)
    info = media.probe(path)
    assert (info.width, info.height) == (34, 22) and info.has_video and not info.has_audio


def test_probe_describes_streams(coded_video: Path) -> None:
    info = media.probe(coded_video)
    assert info.duration == pytest.approx(SECONDS)
    assert (info.fps, info.width, info.height) == (FPS, WIDTH, HEIGHT)
    assert (info.has_audio, info.sample_rate, info.channels) == (True, SR, 2)


# --------------------------------------------------------------------------- audio


def test_audio_round_trip_is_aligned_and_exactly_long(coded_video: Path) -> None:
    audio = media.read_audio(coded_video, SR, channels=2)
    assert audio.shape == (2, round(SECONDS * SR))  # AAC's padding is cut at the declared end
    onset = first_loud(audio[0].numpy()) / SR
    assert abs(onset - TONE_START) < 0.003
    steady = audio[:, SR : SR + 4000].abs().amax(dim=1)
    assert steady[0] == pytest.approx(0.5, rel=0.05) and steady[1] == pytest.approx(0.25, rel=0.05)


def test_audio_window_resampled_mono_and_zero_padded(coded_video: Path) -> None:
    audio = media.read_audio(coded_video, 22050, channels=1, start=0.25, duration=1.0)
    assert audio.shape == (1, 22050)
    assert abs(first_loud(audio[0].numpy()) / 22050 - (TONE_START - 0.25)) < 0.003
    assert audio[0, 15000:].abs().max() == pytest.approx(0.375, rel=0.05)  # mean of 0.5 and 0.25
    padded = media.read_audio(coded_video, SR, channels=1, start=1.5, duration=1.0)
    assert padded.shape == (1, SR)
    assert padded[0, : SR // 2 - 1600].abs().max() > 0.3 and torch.all(padded[0, SR // 2 :] == 0)


def test_resampling_keeps_sample_positions(tmp_path: Path) -> None:
    """Impulses every 0.5 s in a 48 kHz WAV land on exact 16 kHz samples, with and without a seek."""
    path = tmp_path / "impulses.wav"
    clicks = np.zeros(3 * 48000, np.float32)
    clicks[24000::24000] = 1.0
    media.write_wav(path, clicks, 48000)
    whole = media.read_audio(path, SR).numpy()[0]
    assert list(np.flatnonzero(whole > 0.2)) == [8000, 16000, 24000, 32000, 40000]
    window = media.read_audio(path, SR, start=1.1, duration=1.0).numpy()[0]
    assert list(np.flatnonzero(window > 0.2)) == [6400, 14400]
    stereo = media.read_audio(path, SR, channels=2)
    assert stereo.shape == (2, 48000) and torch.equal(stereo[0], stereo[1])


def test_write_wav_is_exact_and_reproducible(tmp_path: Path) -> None:
    samples = np.random.default_rng(0).uniform(-1, 1, (2, 1000)).astype(np.float32)
    media.write_wav(tmp_path / "a.wav", torch.from_numpy(samples), SR)
    media.write_wav(tmp_path / "b.wav", samples, SR)
    back, rate = sf.read(tmp_path / "a.wav", dtype="float32")
    assert rate == SR and np.array_equal(back.T, samples)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


# --------------------------------------------------------------------------- remuxing


def video_packets(path: Path) -> list[tuple[bytes, float | None, bool]]:
    """Each video packet's bytes, presentation time and keyframe flag."""
    with av.open(str(path)) as container:
        return [
            (bytes(p), None if p.pts is None else float(p.pts * p.time_base), p.is_keyframe)
            for p in container.demux(video=0)
            if p.size
        ]


@pytest.mark.parametrize("new_seconds", [1.2, 3.0])
def test_mux_copies_video_bit_identical_and_fits_audio_to_it(
    coded_video: Path, tmp_path: Path, new_seconds: float
) -> None:
    out = tmp_path / "muxed.mp4"
    new_audio = tone(new_seconds, 1.0, freq=1000.0)  # silence, then a tone at 1.0 s (if it fits)
    media.mux_audio(coded_video, torch.from_numpy(new_audio), SR, out)
    assert video_packets(out) == video_packets(coded_video)
    audio = media.read_audio(out, SR, channels=2)
    assert audio.shape == (2, round(SECONDS * SR))
    assert abs(first_loud(audio[0].numpy()) / SR - 1.0) < 0.003  # the new sound, not the old at 0.5 s
    if new_seconds < SECONDS:  # zero-padded after the given audio
        assert audio[:, round(new_seconds * SR) + 1600 :].abs().max() < 0.01


def test_mux_reencodes_a_codec_the_container_cannot_hold(tmp_path: Path) -> None:
    source = tmp_path / "raw.mkv"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(25):
            frame = av.VideoFrame.from_ndarray(code_frame(index), format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    muxed = tmp_path / "muxed.mp4"
    media.mux_audio(source, np.zeros((1, 100), np.float32), SR, muxed)
    with av.open(str(muxed)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    frames, _ = media.read_video_frames(muxed, 25)
    assert read_codes(frames) == list(range(25))
    assert media.read_audio(muxed, SR).shape == (1, SR)


# --------------------------------------------------------------------------- bad input


def _truncated(tmp_path: Path, video: Path, keep: float) -> Path:
    path = tmp_path / f"cut{keep}.mp4"
    data = video.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _corrupt(tmp_path: Path, video: Path) -> Path:
    data = bytearray(video.read_bytes())
    for i in range(2000, len(data) - 2000, 7):
        data[i] ^= 0x5A
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    return path


def _silent_video(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "silent.mp4"
    media.write_video(path, np.zeros((4, 16, 16, 3), np.uint8), 24)
    return path


def _audio_only(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "tone.wav"
    media.write_wav(path, tone(1.0, 0.0), SR)
    return path


def _empty_wav(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1), np.float32), SR)
    return path


def _text(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    return path


def _empty_file(tmp_path: Path, video: Path) -> Path:
    path = tmp_path / "zero.mp4"
    path.write_bytes(b"")
    return path


READ_VIDEO = lambda p: media.read_video_frames(p, 24)  # noqa: E731
READ_AUDIO = lambda p: media.read_audio(p, SR)  # noqa: E731
MUX = lambda p: media.mux_audio(p, np.zeros((1, 10), np.float32), SR, p.parent / "out.mp4")  # noqa: E731

BAD_INPUTS = [
    ("missing", lambda tmp, v: tmp / "nope.mp4", READ_VIDEO, "no such file"),
    ("directory", lambda tmp, v: tmp, media.probe, "directory"),
    ("empty file", _empty_file, READ_AUDIO, "empty file"),
    ("not media", _text, media.probe, "not a media file"),
    ("header cut", lambda tmp, v: _truncated(tmp, v, 0.01), READ_VIDEO, "truncated or corrupt"),
    ("data cut (video)", lambda tmp, v: _truncated(tmp, v, 0.5), READ_VIDEO, "truncated"),
    ("data cut (audio)", lambda tmp, v: _truncated(tmp, v, 0.5), READ_AUDIO, "truncated"),
    ("corrupt", _corrupt, READ_VIDEO, "corrupt"),
    ("no video stream", _audio_only, READ_VIDEO, "no video stream"),
    ("no video to mux", _audio_only, MUX, "no video stream"),
    ("no audio stream", _silent_video, READ_AUDIO, "no audio stream"),
    ("zero duration (probe)", _empty_wav, media.probe, "zero duration"),
    ("zero duration (read)", _empty_wav, READ_AUDIO, "zero duration"),
]


@pytest.mark.parametrize(
    ("make", "call", "problem"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_raises_media_error_naming_the_file(
    coded_video: Path, tmp_path: Path, make, call, problem: str
) -> None:
    path = make(tmp_path, coded_video)
    with pytest.raises(MediaError) as info:
        call(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_unwritable_output_raises_media_error(tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "out.wav"
    with pytest.raises(MediaError, match="missing-folder"):
        media.write_wav(target, np.zeros((1, 10), np.float32), SR)
    with pytest.raises(MediaError, match="missing-folder"):
        media.write_video(target.with_suffix(".mp4"), np.zeros((2, 8, 8, 3), np.uint8), 24)
