"""Reading the paired clips for the metrics: audio once per clip and rate, embeddings once per chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from foleyzoo.api import Video, Waveform
from foleyzoo.errors import MediaError
from foleyzoo.metrics.inputs import Inputs

__all__ = ["AudioReader", "Chunk", "EvalSettings", "chunks"]


@dataclass(frozen=True)
class EvalSettings:
    """How clips are read and grouped: seconds each is cut or padded to, an optional decoding rate, the
    batch, the Inception Score's splits and shuffle seed, and the device the networks run on."""

    duration: float = 8.0
    decode_rate: int | None = None
    batch_size: int = 16
    is_splits: int = 10
    is_seed: int = 2020
    device: str = "cpu"
    protocol: str = "foleyzoo"
    """``av-benchmark`` reads audio its way (:func:`foleyzoo.metrics.avbench_audio.load_mono`), zero-padding a
    short clip to the duration only so that it batches; ``foleyzoo`` decodes straight to the network's rate."""


class AudioReader:
    """Reads a file's audio once per rate: mono, cut or padded to ``duration``, via ``decode_rate`` if set."""

    def __init__(self, duration: float, decode_rate: int | None, protocol: str = "foleyzoo") -> None:
        self.duration, self.decode_rate, self.protocol = duration, decode_rate, protocol

    def read(self, path: Path, rate: int) -> torch.Tensor:
        from foleyzoo.data.audio import fit_length, resample
        from foleyzoo.io.media import read_audio

        if self.protocol == "av-benchmark":
            from foleyzoo.metrics.avbench_audio import load_mono

            return fit_length(load_mono(path, rate, self.duration), round(self.duration * rate))[None]
        if self.decode_rate is None or self.decode_rate == rate:
            return read_audio(path, rate, channels=1, duration=self.duration)
        decoded = read_audio(path, self.decode_rate, channels=1, duration=self.duration)
        return fit_length(resample(decoded, self.decode_rate, rate), round(self.duration * rate))

    def batch(self, paths: Sequence[Path], rate: int) -> torch.Tensor:
        return torch.stack([self.read(path, rate) for path in paths])


@dataclass
class Chunk:
    """A batch of paired clips, with their audio and embeddings computed on first use and kept."""

    ids: Sequence[str]
    inputs: Inputs
    nets: dict[str, Any]
    reader: AudioReader
    settings: EvalSettings
    kept: dict[tuple, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return torch.device(self.settings.device)

    def files(self, side: str) -> list[Path]:
        """The chunk's ``generated`` or ``reference`` files."""
        source = self.inputs.generated if side == "generated" else self.inputs.reference
        return [source[i] for i in self.ids]

    def videos(self) -> list[Path]:
        missing = [i for i in self.ids if i not in self.inputs.videos]
        if missing:
            raise MediaError(f"no video for {len(missing)} paired clip(s): {', '.join(missing[:5])}")
        return [self.inputs.videos[i] for i in self.ids]

    def _once(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self.kept:
            self.kept[key] = compute()
        return self.kept[key]

    def audio(self, side: str, rate: int) -> Waveform:
        """The side's mono audio (B, 1, N) at ``rate`` on the device."""
        return self._once(
            ("audio", side, rate),
            lambda: Waveform(self.reader.batch(self.files(side), rate).to(self.device), rate),
        )

    def embedding(self, name: str, side: str) -> Any:
        """Network ``name``'s :class:`~foleyzoo.api.Embedding` of the side's audio."""
        net = self.nets[name]
        return self._once(("embed", name, side), lambda: net.embed(self.audio(side, net.sample_rate)))

    def frames(self, fps: float, size: tuple[int, int] | None) -> Video:
        """The paired videos' frames (B, T, 3, H, W) at ``fps``, ``duration`` long."""

        def read() -> Video:
            from foleyzoo.io.media import read_video_frames

            frames = [
                read_video_frames(path, fps, size=size, duration=self.settings.duration)[0]
                for path in self.videos()
            ]
            return Video(torch.stack(frames).to(self.device), fps)

        return self._once(("frames", fps, size), read)


def chunks(inputs: Inputs, nets: dict[str, Any], settings: EvalSettings) -> Iterator[Chunk]:
    reader = AudioReader(settings.duration, settings.decode_rate, settings.protocol)
    for first in range(0, len(inputs.ids), settings.batch_size):
        yield Chunk(inputs.ids[first : first + settings.batch_size], inputs, nets, reader, settings)
