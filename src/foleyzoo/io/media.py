"""Media I/O on PyAV and soundfile: frames at a chosen rate, resampled audio, mp4/WAV writers, remuxing.

Times are seconds from the container's start time, so a video's frames and its audio share one axis.
Every failure caused by a file (missing, not media, truncated or corrupt, lacking the stream asked
for, empty, audio holding NaN or Inf) raises :class:`foleyzoo.errors.MediaError` whose message names
the file; no PyAV or soundfile exception escapes. Wrong arguments (a negative rate, a badly shaped array) raise
``ValueError`` as usual.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeAlias

import av
import numpy as np
import soundfile as sf
import torch

from foleyzoo.errors import MediaError
from foleyzoo.io.atomic import atomic_output
from foleyzoo.io.frames import Fit, FrameReading, Pick, Resize, shape_uint8

__all__ = [
    "MediaInfo",
    "MissingStreamError",
    "mux_audio",
    "probe",
    "read_audio",
    "read_video_frames",
    "write_video",
    "write_wav",
]

PathLike: TypeAlias = "str | os.PathLike[str]"
AudioArray: TypeAlias = "torch.Tensor | np.ndarray"

TIME_EPS = 1e-6
"""Seconds of float slack when a frame time is compared with a sampling instant (30 fps at 24 fps meet)."""

TRUNCATION_SLACK = 0.25
"""Seconds of declared-but-missing data tolerated before a file is called truncated (codec padding)."""

X264_CRF = "17"
"""libx264 constant rate factor for :func:`write_video`: visually lossless, small files at 64 × 64."""

AAC_FRAME = 1024
"""Samples per frame fed to the AAC encoder (the codec's fixed frame size)."""

_BACKEND_ERRORS = (av.FFmpegError, sf.SoundFileError, OSError, EOFError, UnicodeDecodeError)

_SIGNATURES = (  # (offset, magic bytes, format name): a file that starts like media but cannot be parsed
    (4, b"ftyp", "MP4/MOV"),
    (0, b"RIFF", "RIFF (WAV/AVI)"),
    (0, b"\x1aE\xdf\xa3", "Matroska/WebM"),
    (0, b"OggS", "Ogg"),
    (0, b"fLaC", "FLAC"),
    (0, b"ID3", "MP3"),
)


class MissingStreamError(MediaError):
    """A readable media file lacks the stream asked for (a silent video read for audio, a WAV read as video).

    Callers that can do without the stream (training skips a video with no sound) catch this subclass;
    everything else treats it as the :class:`MediaError` it is. Build it with :meth:`of`; the plain
    one-message constructor stays, so that a DataLoader worker's copy can be re-raised in the trainer.
    """

    kind: str = ""
    """``"audio"`` or ``"video"``: the kind of stream that is missing."""

    @classmethod
    def of(cls, path: PathLike, kind: str) -> MissingStreamError:
        """The error for ``path`` lacking a ``kind`` stream."""
        error = cls(f"{Path(path)}: no {kind} stream in the file")
        error.kind = kind
        return error


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds: its duration and the shape of its first video and audio streams."""

    path: str
    duration: float
    has_video: bool
    has_audio: bool
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None


# --------------------------------------------------------------------------- errors and opening


@contextlib.contextmanager
def _media_errors(path: Path, problem: str) -> Iterator[None]:
    """Turn a PyAV / soundfile / OS failure into a MediaError naming ``path`` and the ``problem``."""
    try:
        yield
    except MediaError:
        raise
    except _BACKEND_ERRORS as exc:
        raise MediaError(f"{path}: {problem} ({exc})") from exc


def _open_problem(path: Path) -> str:
    """Why PyAV could not open ``path``: a known container that does not parse, or no media at all."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return f"truncated or corrupt {name} file, the container cannot be parsed"
    return "not a media file (format not recognised)"


def _check_readable(path: Path) -> None:
    """Raise MediaError for a path that cannot be a media file before handing it to PyAV."""
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a directory, not a media file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes), not a media file")


@contextlib.contextmanager
def _open_input(path: PathLike) -> Iterator[av.container.InputContainer]:
    """Open a media file for reading; every backend failure inside the block becomes a MediaError."""
    p = Path(path)
    _check_readable(p)
    try:
        container = av.open(str(p), mode="r", metadata_errors="replace")  # mangled tags are not fatal
    except _BACKEND_ERRORS as exc:
        raise MediaError(f"{p}: {_open_problem(p)} ({exc})") from exc
    try:
        with _media_errors(p, "decoding failed, the data is truncated or corrupt"):
            yield container
    finally:
        container.close()


def _check_has_media(container: av.container.InputContainer, path: PathLike) -> None:
    """Raise MediaError when the container holds neither audio nor video (a cut header looks like this)."""
    if not container.streams.video and not container.streams.audio:
        raise MediaError(
            f"{Path(path)}: no audio or video stream could be read, the file is truncated or corrupt"
        )


def _first_stream(container: av.container.InputContainer, kind: str, path: PathLike) -> av.stream.Stream:
    """The first ``kind`` ("video" or "audio") stream, or a MediaError saying the file has none."""
    streams = container.streams.video if kind == "video" else container.streams.audio
    _check_has_media(container, path)
    if not streams:
        raise MissingStreamError.of(path, kind)
    return _decodable(streams[0], kind, path)


def _decodable(stream: av.stream.Stream, kind: str, path: PathLike) -> av.stream.Stream:
    """``stream``, or a MediaError when FFmpeg has no decoder for it (a mangled codec id, a missing codec)."""
    if stream.codec_context is None:
        raise MediaError(
            f"{Path(path)}: no decoder for its {kind} stream: the codec is unknown to this FFmpeg build "
            "or the file is corrupt"
        )
    return stream


def _origin(container: av.container.InputContainer) -> float:
    """The container's start time in seconds: time 0 of every time this module reports."""
    return 0.0 if container.start_time is None else container.start_time / av.time_base


def _stream_end(stream: av.stream.Stream, container: av.container.InputContainer) -> float | None:
    """Where ``stream`` ends according to the file's headers (seconds from the origin), if it says."""
    origin = _origin(container)
    if stream.duration is not None and stream.time_base is not None:
        begin = origin if stream.start_time is None else float(stream.start_time * stream.time_base)
        return begin + float(stream.duration * stream.time_base) - origin
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _seek(container: av.container.InputContainer, stream: av.stream.Stream, seconds: float) -> None:
    """Seek to the last keyframe at or before ``seconds`` (absolute) when that skips anything."""
    if seconds > 0 and stream.time_base is not None:
        container.seek(int(seconds / stream.time_base), stream=stream, backward=True, any_frame=False)


def _frame_time(frame: av.frame.Frame, origin: float, fallback: float) -> float:
    """A decoded frame's presentation time from the origin, or ``fallback`` when it carries none."""
    return fallback if frame.time is None else frame.time - origin


def _check_truncated(path: PathLike, kind: str, reached: float, end: float | None, wanted: float) -> None:
    """Raise MediaError when decoding stopped well before the declared end and more data was wanted."""
    if end is not None and reached < min(end, wanted) - TRUNCATION_SLACK:
        raise MediaError(
            f"{Path(path)}: truncated {kind} data: decoding ends at {reached:.3f} s "
            f"but the file declares {end:.3f} s"
        )


def _nothing_decoded(what: str, end: float | None) -> str:
    """Why a stream yielded nothing: it is empty, or its declared data could not be decoded."""
    if end is None or end <= 0:
        return f"zero duration, the stream holds no {what}"
    return f"no {what} could be decoded although the file declares {end:.3f} s (truncated or corrupt)"


def _check_window(rate: float, start: float, duration: float | None) -> None:
    """Validate a rate and a [start, start + duration) window (a programming error, not a file's)."""
    if not rate > 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if start < 0:
        raise ValueError(f"start must be >= 0 s, got {start}")
    if duration is not None and duration < 0:
        raise ValueError(f"duration must be >= 0 s or None, got {duration}")


# --------------------------------------------------------------------------- probe


def probe(path: PathLike) -> MediaInfo:
    """Describe a media file (duration, first video and audio stream) without decoding it."""
    with _open_input(path) as container:
        _check_has_media(container, path)
        video = _decodable(container.streams.video[0], "video", path) if container.streams.video else None
        audio = _decodable(container.streams.audio[0], "audio", path) if container.streams.audio else None
        ends = [
            end for s in (video, audio) if s is not None and (end := _stream_end(s, container)) is not None
        ]
        duration = max(ends, default=0.0)
        if duration <= 0:
            raise MediaError(f"{Path(path)}: zero duration, the file holds no media data")
        rate = None if video is None else (video.average_rate or video.guessed_rate)
        return MediaInfo(
            path=str(path),
            duration=duration,
            has_video=video is not None,
            has_audio=audio is not None,
            fps=None if rate is None else float(rate),
            width=None if video is None else video.codec_context.width,
            height=None if video is None else video.codec_context.height,
            sample_rate=None if audio is None else audio.codec_context.sample_rate,
            channels=None if audio is None else audio.codec_context.channels,
        )


# --------------------------------------------------------------------------- video frames


class _FramePicker:
    """For each sampling instant, keeps the frame :func:`read_video_frames`'s ``pick`` rule chooses.

    ``pick="latest"``: the latest decoded frame whose time is <= the instant ``start + k / fps``.
    ``pick="next"``: the first frame whose time is >= the instant, instants accumulated as MMAudio's reader
    does (:func:`foleyzoo.io.frames.accumulated_instants`), compared exactly. Frames arrive one at a time
    in presentation order; only the held frame is kept at full size, converted (and resized) once,
    however many instants it fills.
    """

    def __init__(
        self,
        fps: float,
        start: float,
        count: int | None,
        size: tuple[int, int] | None,
        pick: str = "latest",
        resize: str = "bilinear",
        fit: str = "squash",
    ) -> None:
        self.fps, self.start, self.count, self.size = fps, start, count, size
        self.pick, self.resize, self.fit = pick, resize, fit
        self.picked: list[np.ndarray] = []
        self.held: av.VideoFrame | None = None
        self.held_time = 0.0
        self._held_rgb: np.ndarray | None = None
        self._elapsed: list[float] = []

    def instant(self, k: int) -> float:
        """The time (seconds from the origin) output frame ``k`` shows."""
        if self.pick == "latest":
            return self.start + k / self.fps
        while len(self._elapsed) <= k:  # extend the running sum, one step at a time
            self._elapsed.append(self._elapsed[-1] + 1.0 / self.fps if self._elapsed else 0.0)
        return self.start + self._elapsed[k]

    def wanted(self) -> bool:
        """Whether more output frames are wanted (always, until the end, when no duration was given)."""
        return self.count is None or len(self.picked) < self.count

    def offer(self, frame: av.VideoFrame, time: float) -> bool:
        """Take the next decoded frame; returns False once every wanted instant is filled."""
        if self.pick == "next":
            self._hold(frame, time)
            while self.wanted() and time >= self.instant(len(self.picked)):
                self.picked.append(self._held_array())
            return self.wanted()
        if self.held is None:  # instants before the first frame show the first frame
            self._hold(frame, time)
        while self.wanted() and self.instant(len(self.picked)) < time - TIME_EPS:
            self.picked.append(self._held_array())
        self._hold(frame, time)
        return self.wanted()

    def finish(self, stop: float) -> None:
        """At the end of the stream: fill the instants before ``stop`` (or all, given a duration)."""
        while self.wanted() and (self.count is not None or self.instant(len(self.picked)) < stop - TIME_EPS):
            self.picked.append(self._held_array())

    def _hold(self, frame: av.VideoFrame, time: float) -> None:
        self.held, self.held_time, self._held_rgb = frame, time, None

    def _held_array(self) -> np.ndarray:
        if self._held_rgb is None:
            assert self.held is not None
            if self.resize == "bicubic" and self.size is not None:
                levels = torch.from_numpy(self.held.to_ndarray(format="rgb24")).permute(2, 0, 1)
                shaped = shape_uint8(levels, self.size, self.fit, "bicubic")
                self._held_rgb = shaped.permute(1, 2, 0).contiguous().numpy()
            else:
                height, width = self.size if self.size is not None else (self.held.height, self.held.width)
                self._held_rgb = self.held.to_ndarray(format="rgb24", width=width, height=height)
        return self._held_rgb


def read_video_frames(
    path: PathLike,
    fps: float,
    size: tuple[int, int] | None = None,
    start: float = 0.0,
    duration: float | None = None,
    pick: Pick = "latest",
    resize: Resize = "bilinear",
    fit: Fit = "squash",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a video's frames resampled to ``fps``, streaming, for models that need a fixed frame rate.

    Output frame k shows the instant ``start + k / fps``: with ``pick="latest"`` (the default) the latest
    decoded frame whose presentation time is at or before it (instants before the first frame show the
    first frame), so any input rate, variable ones included, maps onto the requested grid; with
    ``pick="next"`` the first frame at or after it, instants summed as MMAudio's reader sums them
    (:mod:`foleyzoo.io.frames`). Frames are converted and resized to ``size = (H, W)`` one at a time as
    they are decoded: ``resize="bilinear"`` by the decoder's scaler, ``"bicubic"`` by torchvision on the
    8-bit frame (antialiased, MMAudio's way), where ``fit="crop"`` resizes the shorter side and
    centre-crops instead of squashing. With ``duration`` the output has exactly
    ``round(duration * fps)`` frames, instants past the end repeating the last frame; without it, the
    output runs to the end of the video.

    Returns ``(frames, times)``: frames ``(T, 3, H, W)`` float32 in [0, 1] and the instants ``(T,)``
    float64 in seconds.
    """
    _check_window(fps, start, duration)
    FrameReading(pick, resize, fit)  # checks the options
    count = None if duration is None else round(duration * fps)
    with _open_input(path) as container:
        stream = _first_stream(container, "video", path)
        stream.thread_type = "AUTO"
        origin = _origin(container)
        rate = stream.average_rate or stream.guessed_rate
        step = 1.0 / float(rate) if rate else 1.0 / fps
        picker = _FramePicker(fps, start, count, size, pick, resize, fit)
        _seek(container, stream, origin + start)
        for frame in container.decode(stream):
            if not picker.offer(frame, _frame_time(frame, origin, picker.held_time + step)):
                break
        end = _stream_end(stream, container)
        if picker.held is None:
            raise MediaError(f"{Path(path)}: {_nothing_decoded('video frames', end)}")
        if picker.wanted():
            wanted = float("inf") if count is None else picker.instant(count)
            _check_truncated(path, "video", picker.held_time + step, end, wanted)
        picker.finish(max(end or 0.0, picker.held_time + step))  # a wrong declared end cannot cut frames
    if not picker.picked:
        raise MediaError(f"{Path(path)}: start {start:.3f} s is at or past the end of the video")
    frames = torch.from_numpy(np.stack(picker.picked)).permute(0, 3, 1, 2).float().div_(255.0)
    times = torch.tensor([picker.instant(k) for k in range(len(picker.picked))], dtype=torch.float64)
    return frames, times


# --------------------------------------------------------------------------- audio


class _SampleWindow:
    """Collects samples ``[first, first + count)`` of a stream that is decoded in positioned blocks."""

    def __init__(self, first: int, count: int | None) -> None:
        self.first, self.count = first, count
        self.parts: list[tuple[int, np.ndarray]] = []
        self.reached: int | None = None
        self.channels = 0

    def add(self, pos: int, block: np.ndarray) -> None:
        """Keep the part of ``block`` (C, n), whose first sample is number ``pos``, inside the window."""
        n = block.shape[1]
        self.channels = block.shape[0]
        lo = max(pos, self.first)
        hi = pos + n if self.count is None else min(pos + n, self.first + self.count)
        if hi > lo:
            self.parts.append((lo - self.first, block[:, lo - pos : hi - pos]))
        self.reached = pos + n if self.reached is None else max(self.reached, pos + n)

    def full(self) -> bool:
        """Whether decoding has passed the end of the window."""
        return self.count is not None and self.reached is not None and self.reached >= self.first + self.count

    def assemble(self, length: int) -> np.ndarray:
        """The window as one (C, length) array: gaps and the part past the stream's end are zeros."""
        out = np.zeros((self.channels, length), dtype=np.float32)
        for offset, block in self.parts:
            piece = block[:, : max(0, length - offset)]
            out[:, offset : offset + piece.shape[1]] = piece
        return out


def _decode_resampled(
    container: av.container.InputContainer, stream: av.stream.Stream, rate: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(number of the first sample, block (C, n))`` of the stream resampled to ``rate``.

    The first block starts at the first decoded frame's time; the resampler's output is contiguous
    from there (its filter delay is inside the blocks, not between them). Streams with more than two
    channels are down-mixed to stereo.
    """
    frames = container.decode(stream)
    first = next(frames, None)
    if first is None:
        return
    position = round(_frame_time(first, _origin(container), 0.0) * rate)
    layout = None if stream.codec_context.channels <= 2 else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    for frame in itertools.chain([first], frames, [None]):  # None flushes the resampler
        for out in resampler.resample(frame):
            block = out.to_ndarray()
            yield position, block
            position += block.shape[1]


def _to_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """Mono by averaging the channels, stereo by duplicating a mono signal."""
    if channels == 1:
        return block.mean(axis=0, keepdims=True)
    return np.repeat(block, 2, axis=0) if block.shape[0] == 1 else block[:2]


def read_audio(
    path: PathLike,
    sample_rate: int,
    channels: int = 1,
    start: float = 0.0,
    duration: float | None = None,
) -> torch.Tensor:
    """Decode the first audio stream of a video or audio file, resampled, for models with a fixed rate.

    Mono is the average of the channels; stereo duplicates a mono source (more than two channels are
    down-mixed first). With ``duration`` the result has exactly ``round(duration * sample_rate)``
    samples (zero-padded past the end of the stream); without it, it runs to the declared end.

    Returns a ``(channels, N)`` float32 tensor.
    """
    _check_window(sample_rate, start, duration)
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {channels}")
    first = round(start * sample_rate)
    count = None if duration is None else round(duration * sample_rate)
    with _open_input(path) as container:
        stream = _first_stream(container, "audio", path)
        _seek(container, stream, _origin(container) + start)
        window = _SampleWindow(first, count)
        for position, block in _decode_resampled(container, stream, sample_rate):
            window.add(position, block)
            if window.full():
                break
        end = _stream_end(stream, container)
        if window.reached is None:
            raise MediaError(f"{Path(path)}: {_nothing_decoded('audio samples', end)}")
        if not window.full():
            wanted = float("inf") if count is None else (first + count) / sample_rate
            _check_truncated(path, "audio", window.reached / sample_rate, end, wanted)
    valid = _valid_length(window, end, sample_rate)
    if valid <= 0 and count is None:
        raise MediaError(f"{Path(path)}: start {start:.3f} s is at or past the end of the audio")
    samples = window.assemble(valid if count is None else count)
    samples[:, max(valid, 0) :] = 0.0  # codec padding decoded past the declared end is not audio
    _check_finite(path, samples, sample_rate, start)
    return torch.from_numpy(_to_channels(samples, channels).astype(np.float32))


def _check_finite(path: PathLike, samples: np.ndarray, sample_rate: int, start: float) -> None:
    """Raise MediaError when decoded samples hold NaN or Inf: they would poison a loss or a metric silently."""
    bad = ~np.isfinite(samples).all(axis=0)
    if bad.any():
        first = start + int(np.argmax(bad)) / sample_rate
        raise MediaError(
            f"{Path(path)}: audio holds {int(bad.sum())} NaN or Inf samples (the first at {first:.3f} s); "
            "the file is corrupt or was written from diverged values"
        )


def _valid_length(window: _SampleWindow, end: float | None, sample_rate: int) -> int:
    """Samples from the window's start to the end of the audio: the declared end cuts codec padding."""
    assert window.reached is not None
    stop = window.reached if end is None else min(window.reached, round(end * sample_rate))
    return stop - window.first


# --------------------------------------------------------------------------- writing


def _as_channels_first(samples: AudioArray) -> np.ndarray:
    """A (C, N) float32 array from a tensor or array; a 1-D input is one (mono) channel."""
    arr = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] not in (1, 2):
        raise ValueError(f"audio must be (C, N) with C = 1 or 2, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def write_wav(path: PathLike, samples: AudioArray, sample_rate: int) -> None:
    """Write ``(C, N)`` float samples as a 32-bit float WAV; float keeps them exact (PCM_16 would round).

    libsndfile stamps float WAVs with the time of writing (in their PEAK chunk); the stamp is zeroed,
    so equal samples always give byte-identical files.
    """
    arr = _as_channels_first(samples)
    p = Path(path)
    with _media_errors(p, "cannot write the WAV file"), atomic_output(p) as temporary:
        sf.write(str(temporary), arr.T, int(sample_rate), subtype="FLOAT", format="WAV")
        zero_peak_timestamp(temporary)


def zero_peak_timestamp(path: Path) -> None:
    """Zero the timestamp of a WAV's PEAK chunk (``PEAK``, size, version, timestamp), if it has one."""
    with open(path, "r+b") as handle:
        head = handle.read(512)
        at = head.find(b"PEAK")
        if at >= 0:
            handle.seek(at + 12)
            handle.write(b"\0\0\0\0")


def _output_options(path: Path) -> dict[str, str]:
    """Muxer options: mp4/mov get the index at the front (playable while downloading, and a cut file
    keeps its declared duration, so truncation is detected)."""
    return {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".m4v", ".mov") else {}


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 padded by edge replication to even H and W, as yuv420p needs."""
    _, height, width, _ = frames.shape
    if height % 2 == 0 and width % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _add_h264_stream(
    out: av.container.OutputContainer, fps: float | Fraction, width: int, height: int
) -> av.stream.Stream:
    """An H.264 (libx264, yuv420p) stream at ``fps`` with CRF :data:`X264_CRF`."""
    stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(100_000))
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"crf": X264_CRF}
    return stream


def _encode_frames(stream: av.stream.Stream, frames: Iterable[av.VideoFrame]) -> Iterator[av.Packet]:
    """Encode frames (their pts already in the stream's codec time base), then flush the encoder."""
    for frame in frames:
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _rgb_frames(frames: np.ndarray) -> Iterator[av.VideoFrame]:
    """PyAV frames from (T, H, W, 3) uint8, frame k at pts k (the codec time base is 1 / fps)."""
    for k, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = k
        yield frame


def _encode_aac(
    out: av.container.OutputContainer, samples: np.ndarray, sample_rate: int, first_pts: int = 0
) -> list[av.Packet]:
    """Add an AAC stream to ``out`` and encode ``samples`` (C, N) into its packets (audio is small)."""
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    stream = out.add_stream("aac", rate=int(sample_rate), layout=layout)
    packets: list[av.Packet] = []
    for offset in range(0, samples.shape[1], AAC_FRAME):
        chunk = np.ascontiguousarray(samples[:, offset : offset + AAC_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = int(sample_rate), first_pts + offset
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def _packet_time(packet: av.Packet) -> float:
    """A packet's decoding time in seconds (its presentation time when it has no dts)."""
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float(stamp * packet.time_base) if stamp is not None and packet.time_base else 0.0


def _mux_interleaved(
    out: av.container.OutputContainer, video: Iterable[av.Packet], audio: list[av.Packet]
) -> None:
    """Mux video packets as they come with the audio packets slotted in by time."""
    pending = iter(audio)
    nxt = next(pending, None)
    for packet in video:
        while nxt is not None and _packet_time(nxt) <= _packet_time(packet):
            out.mux(nxt)
            nxt = next(pending, None)
        out.mux(packet)
    while nxt is not None:
        out.mux(nxt)
        nxt = next(pending, None)


def write_video(
    path: PathLike,
    frames: np.ndarray,
    fps: float,
    audio: AudioArray | None = None,
    sample_rate: int | None = None,
) -> None:
    """Write uint8 frames ``(T, H, W, 3)`` (and optional ``(C, N)`` float audio) as H.264 + AAC mp4.

    Frame k is shown at k / fps. H.264 in yuv420p needs even sizes: an odd height or width is padded
    by one replicated row or column. Audio, when given, starts at time 0 and needs ``sample_rate``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be non-empty uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if audio is not None and not sample_rate:
        raise ValueError("write_video needs sample_rate when audio is given")
    _check_window(fps, 0.0, None)
    frames = _pad_even(frames)
    p = Path(path)
    with (
        _media_errors(p, "cannot write the video file"),
        atomic_output(p) as temporary,
        av.open(str(temporary), mode="w", options=_output_options(p)) as out,
    ):
        stream = _add_h264_stream(out, fps, frames.shape[2], frames.shape[1])
        packets = [] if audio is None else _encode_aac(out, _as_channels_first(audio), int(sample_rate))
        _mux_interleaved(out, _encode_frames(stream, _rgb_frames(frames)), packets)


# --------------------------------------------------------------------------- remuxing


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (C, N) samples to exactly ``length`` samples."""
    if samples.shape[1] >= length:
        return samples[:, :length]
    return np.pad(samples, ((0, 0), (0, length - samples.shape[1])))


def _copied_packets(
    src: av.container.InputContainer, stream: av.stream.Stream, target: av.stream.Stream
) -> Iterator[av.Packet]:
    """The video stream's packets, unchanged, re-addressed to ``target`` (remux, no re-encoding)."""
    for packet in src.demux(stream):
        if packet.dts is None:  # the demuxer's empty end-of-stream packet
            continue
        packet.stream = target
        yield packet


def _reencoded_frames(
    src: av.container.InputContainer, stream: av.stream.Stream, fps: Fraction, width: int, height: int
) -> Iterator[av.VideoFrame]:
    """Decoded frames as yuv420p ``width`` × ``height`` with pts counted in 1 / ``fps`` (for re-encoding)."""
    origin = _origin(src)
    for k, frame in enumerate(src.decode(stream)):
        out = frame.reformat(width=width, height=height, format="yuv420p")
        out.pts = k if frame.time is None else round((frame.time - origin) * fps)
        out.time_base = 1 / fps
        yield out


def _video_span(stream: av.stream.Stream, container: av.container.InputContainer, path: PathLike) -> float:
    """The video stream's duration in seconds, or MediaError when it is unknown or zero."""
    end = _stream_end(stream, container)
    begin = (
        0.0 if stream.start_time is None else float(stream.start_time * stream.time_base) - _origin(container)
    )
    if end is None or end - begin <= 0:
        raise MediaError(f"{Path(path)}: zero or unknown video duration, cannot fit audio to it")
    return end - begin


BROWSER_SAFE_VIDEO = frozenset({"h264", "av1"})
"""Video codecs every current browser plays from an .mp4; a stream of another (MJPEG, MPEG-4 Part 2,
ProRes, HEVC in most browsers) is re-encoded to H.264 when muxed."""
BROWSER_SAFE_PIXELS = frozenset({"yuv420p", "yuvj420p"})
"""Pixel formats those decoders take everywhere (4:2:0, 8 bits); 4:4:4 or 10-bit H.264 is re-encoded too."""


def copies_video(stream: av.stream.Stream, container: av.container.OutputContainer) -> bool:
    """Whether ``stream`` can be copied into ``container`` unchanged and still play in a browser."""
    context = stream.codec_context
    return (
        context.name in BROWSER_SAFE_VIDEO
        and context.name in container.supported_codecs
        and (context.pix_fmt or "") in BROWSER_SAFE_PIXELS
    )


def mux_audio(video_path: PathLike, audio: AudioArray, sample_rate: int, out_path: PathLike) -> None:
    """Write ``out_path``: the video's picture with ``audio`` (C, N) as its only sound, for generated Foley.

    The video stream is copied packet by packet (bit-identical, no re-encoding) when it is H.264 or AV1 in
    8-bit 4:2:0 (:func:`copies_video`: what browsers play), and re-encoded to H.264 otherwise. The audio is trimmed or
    zero-padded to exactly the video stream's duration, starts where the video starts, and is encoded
    as AAC. Other streams of the input (its old audio, subtitles) are dropped.
    """
    samples = _as_channels_first(audio)
    out_p = Path(out_path)
    with _open_input(video_path) as src:
        vin = _first_stream(src, "video", video_path)
        span = _video_span(vin, src, video_path)
        begin = 0.0 if vin.start_time is None else float(vin.start_time * vin.time_base) - _origin(src)
        samples = _fit_length(samples, round(span * sample_rate))
        with (
            _media_errors(out_p, "cannot write the output file"),
            atomic_output(out_p) as temporary,
            av.open(str(temporary), mode="w", options=_output_options(out_p)) as dst,
        ):
            if copies_video(vin, dst):
                vout = dst.add_stream_from_template(vin)
                video: Iterable[av.Packet] = _copied_packets(src, vin, vout)
            else:  # re-encode; yuv420p needs even sizes, so odd ones are scaled up by one pixel
                fps = Fraction(vin.average_rate or vin.guessed_rate or 24).limit_denominator(100_000)
                width, height = (
                    size + size % 2 for size in (vin.codec_context.width, vin.codec_context.height)
                )
                vout = _add_h264_stream(dst, fps, width, height)
                video = _encode_frames(vout, _reencoded_frames(src, vin, fps, width, height))
            packets = _encode_aac(dst, samples, int(sample_rate), first_pts=round(begin * sample_rate))
            _mux_interleaved(dst, video, packets)
