"""FoleyPipeline: a video (and/or a prompt) → stereo audio exactly as long as the video.

The frozen encoders run once per window of the video (never once per sampler step); guidance evaluates
its branches in one batched forward pass; videos longer than the training window are generated in
overlapping windows on a grid every stream shares and cross-faded in latent space (:mod:`.windows`).
The mono mel goes through the stereo renderer, then the vocoder renders each channel.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from foleyzoo.api import (
    AudioCodec,
    Conditions,
    Denoiser,
    Latents,
    Mel,
    Sampler,
    StereoRenderer,
    SyncEncoder,
    TextEncoder,
    TextFeatures,
    Video,
    VisualEncoder,
    Vocoder,
)
from foleyzoo.data.audio import fit_length
from foleyzoo.errors import ConfigError, GenerationError, MediaError
from foleyzoo.io.frames import FrameReading, accumulated_instants, quantise, shape_uint8
from foleyzoo.pipeline.bundle import Bundle
from foleyzoo.pipeline.device import inference_precision, pick_device
from foleyzoo.pipeline.home import resolve_bundle
from foleyzoo.pipeline.levels import LEVEL_MODES, keep_below_ceiling
from foleyzoo.pipeline.windows import Window, crossfade, plan_windows, shared_grid
from foleyzoo.renderers.checks import check_renderer_follows
from foleyzoo.samplers import EulerSampler
from foleyzoo.samplers.guidance import CONDITION_NAMES, guided_velocity
from foleyzoo.vocoders.base import check_vocoder_follows, vocode_to_length

__all__ = ["FoleyPipeline", "Generated", "GenerationProgress", "VideoFrames"]

DEFAULT_READING = FrameReading()


@dataclass(frozen=True)
class VideoFrames:
    """Decoded frames (T, 3, H, W) in [0, 1] at ``fps``: a video held in memory instead of a file."""

    frames: Tensor
    fps: float

    @property
    def duration(self) -> float:
        return self.frames.shape[0] / self.fps

    def window(
        self,
        fps: float,
        size: tuple[int, int],
        start: float,
        count: int,
        reading: FrameReading = DEFAULT_READING,
    ) -> Tensor:
        """``count`` frames at ``fps`` from ``start`` s, chosen and resized as ``reading`` says (see read_video_frames)."""
        last = self.frames.shape[0] - 1
        if reading.pick == "next":  # the first source frame at or after each summed instant
            instants = torch.tensor(accumulated_instants(start, fps, count), dtype=torch.float64)
            times = torch.arange(self.frames.shape[0], dtype=torch.float64) / self.fps
            picks = torch.searchsorted(times, instants).clamp(0, last)
        else:
            instants = start + torch.arange(count, dtype=torch.float64) / fps
            picks = (instants * self.fps + 1e-6).floor().long().clamp(0, last)
        chosen = self.frames[picks]
        if tuple(chosen.shape[-2:]) == tuple(size) and reading.fit == "squash":
            return chosen
        if reading.resize == "bicubic":
            return shape_uint8(quantise(chosen), tuple(size), reading.fit).float().div_(255.0)
        return F.interpolate(chosen, size=tuple(size), mode="bilinear", align_corners=False)


class _VideoFile:
    """A video on disk, read window by window (streaming: memory stays bounded for long videos)."""

    def __init__(self, path: Path) -> None:
        from foleyzoo.io.media import probe

        self.path = path
        info = probe(path)
        if not info.has_video:
            raise MediaError(f"{path}: has no video stream (an audio-only file?); give a video")
        self.duration = float(info.duration)

    def window(
        self,
        fps: float,
        size: tuple[int, int],
        start: float,
        count: int,
        reading: FrameReading = DEFAULT_READING,
    ) -> Tensor:
        from foleyzoo.io.media import read_video_frames

        return read_video_frames(
            self.path, fps, size, start, count / fps, reading.pick, reading.resize, reading.fit
        )[0]


@dataclass(frozen=True)
class Generated:
    """Generated audio: ``samples`` (channels, N) at ``sample_rate``, exactly the requested duration.

    ``video`` is the file it was generated for (None for text-only audio or frames held in memory), so
    that :meth:`save` can put the sound under its picture.
    """

    samples: Tensor
    sample_rate: int
    video: Path | None = None

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sample_rate

    def save(self, path: str | Path) -> Path:
        """Write ``path``: a float WAV (``.wav``), or the video with this sound as its only audio track
        (``.mp4``, H.264/AAC, needs the video file it was generated for); folders are created."""
        from foleyzoo.io.media import mux_audio, write_wav

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".wav", ".mp4"):
            raise ConfigError(
                f"{target}: Generated.save writes .wav or .mp4 files, not {suffix or 'no suffix'}"
            )
        if suffix == ".mp4" and self.video is None:
            raise ConfigError(
                f"{target}: this audio was not generated for a video file, so there is no picture to mux "
                "it with; save it as .wav"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        samples = self.samples.float().numpy()
        if suffix == ".wav":
            write_wav(target, samples, self.sample_rate)
        else:
            mux_audio(self.video, samples, self.sample_rate, target)
        return target


@dataclass(frozen=True)
class GenerationProgress:
    """Where one generation stands, for a progress callback: ``stage`` is ``"sampling"`` (window group
    ``group`` of ``groups``, sampler step ``step`` of ``steps``), then ``"decoding"``, then ``"done"``."""

    stage: str
    group: int
    groups: int
    step: int
    steps: int
    elapsed: float

    @property
    def fraction(self) -> float:
        """The share of the sampling done, 0 to 1 (decoding counts as the end of it)."""
        if self.stage != "sampling":
            return 1.0
        return min(1.0, ((self.group - 1) + self.step / max(1, self.steps)) / max(1, self.groups))


ProgressCallback = Callable[[GenerationProgress], None]


LAST_HOP_MODES = ("repeat", "zeros")
"""How generation completes the end of the audio a vocoder renders a hop short (see FoleyPipeline)."""


class FoleyPipeline:
    """Trained parts put together for generation; build one with :meth:`from_bundle`.

    ``data_format`` is how the training data was sampled (frame rates, sizes, ``window`` seconds); long
    videos are cut into windows of that length sharing ``overlap`` seconds (default: a quarter window),
    ``window_batch`` of them sampled together. ``encode_empty_prompt`` conditions on the text encoder's
    features of the empty string where no prompt (or no negative prompt) is given, as MMAudio does,
    instead of the denoiser's learned placeholder for absent text. ``last_hop`` is how the audio's end is
    completed where the vocoder renders a hop short of it: ``"repeat"`` vocodes the last mel frame
    repeated (:func:`~foleyzoo.vocoders.base.vocode_to_length`), ``"zeros"`` pads with silence, as
    bundles exported before the setting existed did (they keep generating what they generated).
    """

    def __init__(
        self,
        codec: AudioCodec,
        denoiser: Denoiser,
        vocoder: Vocoder,
        data_format: dict,
        text_encoder: TextEncoder | None = None,
        visual_encoder: VisualEncoder | None = None,
        sync_encoder: SyncEncoder | None = None,
        renderer: StereoRenderer | None = None,
        sampler: Sampler | None = None,
        cfg_scale: float = 4.5,
        text_cfg_scale: float | None = None,
        conditions: tuple[str, ...] = CONDITION_NAMES,
        overlap: float | None = None,
        window_batch: int = 4,
        device: str | torch.device | None = None,
        encode_empty_prompt: bool = False,
        last_hop: str = "repeat",
    ) -> None:
        if last_hop not in LAST_HOP_MODES:
            raise ConfigError(f"last_hop must be one of {', '.join(LAST_HOP_MODES)}, got {last_hop!r}")
        check_vocoder_follows(vocoder, codec)
        if renderer is not None:
            check_renderer_follows(renderer, codec)
        self.device = pick_device(device)
        self.precision: torch.dtype | None = None  # None: bf16 autocast on CUDA GPUs, full elsewhere
        self.source_bundle: Path | None = None
        self.codec, self.denoiser, self.vocoder = codec, denoiser, vocoder
        self.text_encoder = text_encoder if "text" in conditions else None
        self.visual_encoder = visual_encoder if "visual" in conditions else None
        self.sync_encoder = sync_encoder if "sync" in conditions else None
        self.renderer = renderer
        for part in self._parts():
            part.to(self.device).eval()
        self.sampler = sampler if sampler is not None else EulerSampler(steps=25)
        self.cfg_scale, self.text_cfg_scale = cfg_scale, text_cfg_scale
        self.encode_empty_prompt, self.last_hop = encode_empty_prompt, last_hop
        self.visual_size = tuple(data_format.get("visual_size") or (224, 224))
        self.sync_size = tuple(data_format.get("sync_size") or (224, 224))
        self.visual_reading = FrameReading.of(data_format, "visual")
        self.sync_reading = FrameReading.of(data_format, "sync")
        window = data_format.get("window") or 8.0
        self.window_frames = codec.latent_frames_for(float(window))  # as many frames as a training clip
        overlap = float(window) / 4 if overlap is None else overlap  # seconds two windows share
        self.overlap_frames = min(self.window_frames - 1, max(0, round(overlap * codec.latent_rate)))
        self.window_batch = window_batch
        rates = [encoder.fps for encoder in (self.visual_encoder, self.sync_encoder) if encoder is not None]
        self.grid = shared_grid(codec.latent_rate, rates)

    def _parts(self) -> Iterator[torch.nn.Module]:
        for part in (
            self.codec,
            self.denoiser,
            self.vocoder,
            self.text_encoder,
            self.visual_encoder,
            self.sync_encoder,
            self.renderer,
        ):
            if part is not None:
                yield part

    @classmethod
    def from_bundle(
        cls, path: str | Path, device: str | torch.device | None = None, **options
    ) -> FoleyPipeline:
        """The pipeline of a ``foleyzoo export`` bundle folder (parts built through the allowlist)."""
        bundle = Bundle.open(path)
        generation = bundle.config["generation"]
        missing = [name for name in ("codec", "denoiser", "vocoder") if name not in bundle.parts]
        if missing:
            raise ConfigError(f"{bundle.path}: the bundle lacks the {', '.join(missing)} part(s)")
        pipeline = cls(
            codec=bundle.build("codec"),
            denoiser=bundle.build("denoiser"),
            vocoder=bundle.build("vocoder"),
            data_format=bundle.config["data_format"],
            text_encoder=bundle.build("text_encoder"),
            visual_encoder=bundle.build("visual_encoder"),
            sync_encoder=bundle.build("sync_encoder"),
            renderer=bundle.build("renderer"),
            sampler=bundle.sampler(),
            cfg_scale=generation.get("cfg_scale", 4.5),
            text_cfg_scale=generation.get("text_cfg_scale"),
            conditions=tuple(generation.get("conditions") or CONDITION_NAMES),
            device=device,
            encode_empty_prompt=bool(generation.get("encode_empty_prompt", False)),
            last_hop=options.pop("last_hop", generation.get("last_hop", "zeros")),
            **options,
        )
        pipeline.card = bundle.card
        pipeline.source_bundle = bundle.path
        return pipeline

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        **options,
    ) -> FoleyPipeline:
        """A bundle by folder or by name in the local model folder (``foleyzoo models``), as diffusers'
        ``from_pretrained`` is used; ``dtype`` as in :meth:`to`. Nothing is downloaded."""
        pipeline = cls.from_bundle(resolve_bundle(name_or_path), device=device, **options)
        return pipeline.to(dtype=dtype) if dtype is not None else pipeline

    def save_pretrained(self, path: str | Path, name: str | None = None) -> Path:
        """Copy the bundle this pipeline was opened from to the folder ``path`` (and, with ``name``, into
        the local model folder under that name) so that :meth:`from_pretrained` opens it again. The files
        are copied as stored: weights changed in memory are not written (export a checkpoint for that)."""
        from foleyzoo.pipeline.home import copy_bundle, register_bundle

        if self.source_bundle is None:
            raise ConfigError(
                "this pipeline was not opened from a bundle; write one with foleyzoo.pipeline.export_bundle"
            )
        target = Path(path)
        if target.resolve() != self.source_bundle.resolve():
            copy_bundle(self.source_bundle, target, overwrite=True)
        if name is not None:
            register_bundle(target, name)
        return target

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> FoleyPipeline:
        """Move every part to ``device`` and/or sample in ``dtype`` (torch.float32 for full precision,
        torch.bfloat16 or torch.float16 for autocast in that type); returns the pipeline, as nn.Module does.

        Only the compute precision changes: the weights stay float32 so that the codec and vocoder, which
        set the output's quality, keep theirs.
        """
        if device is not None:
            self.device = pick_device(device)
            for part in self._parts():
                part.to(self.device)
        if dtype is not None:
            if dtype not in (torch.float32, torch.bfloat16, torch.float16):
                raise ConfigError(
                    f"dtype must be torch.float32, torch.bfloat16 or torch.float16, got {dtype}"
                )
            self.precision = dtype
        return self

    def __call__(
        self, video: str | Path | VideoFrames | None = None, prompt: str | None = None, **options
    ) -> Generated:
        """``pipeline(video, prompt, ...)``: the same as :meth:`generate`."""
        return self.generate(video, prompt, **options)

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(
        self,
        video: str | Path | VideoFrames | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        duration: float | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        seed: int = 0,
        sampler: Sampler | None = None,
        latents: Tensor | None = None,
        mono: bool = False,
        normalize: bool = True,
        levels: str = "gain",
        progress: ProgressCallback | None = None,
    ) -> Generated:
        """Stereo audio for a video (a file or :class:`VideoFrames`), a prompt, or both.

        Without a video, ``duration`` (seconds) is required (text-to-audio); with one, the audio is as long
        as the video (or ``duration``, when given, from its start). ``latents`` (T, C), T =
        ``codec.latent_frames_for(duration)``, is the initial noise to use instead of the seed's (to compare
        with another implementation from the same noise, or to vary the prompt on fixed noise). ``mono`` returns
        the one channel the codec decodes, without the stereo renderer. ``normalize`` keeps every sample
        below -1 dBFS, by ``levels``: ``"gain"``, one gain for the whole clip (the generated transients keep
        their shape), or ``"limiter"``, a look-ahead peak limiter that lowers the gain around the loud
        samples only (:mod:`foleyzoo.pipeline.levels`); off: the raw levels, which may pass full scale.
        ``progress`` is called with a :class:`GenerationProgress` at each sampler step and when decoding
        starts and ends.
        """
        if cfg is not None and not math.isfinite(cfg):
            raise ConfigError(f"the guidance scale (--cfg) must be a finite number, got {cfg}")
        if levels not in LEVEL_MODES:
            raise ConfigError(f"levels (--levels) must be one of {', '.join(LEVEL_MODES)}, got {levels!r}")
        source = self._source(video)
        if duration is None:
            if source is None:
                raise ConfigError("text-only generation needs a duration in seconds")
            duration = source.duration
        if duration <= 0:
            raise ConfigError(f"duration must be positive, got {duration}")
        total = self.codec.latent_frames_for(duration)
        windows = plan_windows(total, self.window_frames, self.overlap_frames, self.grid)
        chosen = self._sampler(sampler, steps)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(total, self.codec.latent_dim, generator=generator)  # shared where windows overlap
        if latents is not None:
            if tuple(latents.shape) != tuple(noise.shape):
                raise ConfigError(
                    f"latents must be (frames, channels) = {tuple(noise.shape)} for {duration:.3f} s, "
                    f"got {tuple(latents.shape)}"
                )
            noise = latents.detach().float().cpu()
        text = self._text(prompt)
        negative = self._text(negative_prompt) if negative_prompt or self.encode_empty_prompt else None
        if negative is not None and self.text_encoder is None:
            raise ConfigError("this model has no text encoder, so it cannot take a negative prompt")
        chunks: list[Tensor] = []
        groups = list(_groups(windows, self.window_batch))
        report = _Reporter(progress, len(groups), chosen)
        with inference_precision(self.device, self.precision):
            for index, group in enumerate(groups, 1):
                report.group = index
                chunks += self._sample_windows(
                    group, source, noise, text, negative, chosen, cfg, duration, report
                )
            report("decoding")
            latents = crossfade([chunk.float() for chunk in chunks], windows, total)
            decoded = self.codec.decode(Latents(latents[None].to(self.device), self.codec.latent_rate))
            rendered = _float_mel(decoded) if mono else self._render(decoded, source, duration)
            length = round(duration * self.codec.sample_rate)
            if self.last_hop == "repeat":
                audio = vocode_to_length(self.vocoder, _float_mel(rendered), length).samples[0]
            else:
                audio = fit_length(self.vocoder.vocode(_float_mel(rendered)).samples[0], length)
            audio = audio.float().cpu()
        _check_finite(audio, video, self.cfg_scale if cfg is None else cfg, chosen.steps)
        if normalize:
            audio = keep_below_ceiling(audio, self.codec.sample_rate, levels)
        report("done")
        return Generated(
            audio, self.codec.sample_rate, source.path if isinstance(source, _VideoFile) else None
        )

    def _source(self, video: str | Path | VideoFrames | None) -> VideoFrames | _VideoFile | None:
        if video is None:
            return None
        if isinstance(video, VideoFrames):
            return video
        path = Path(video)
        if not path.is_file():
            raise MediaError(f"{path}: no such video file")
        return _VideoFile(path)

    def _sampler(self, sampler: Sampler | None, steps: int | None) -> Sampler:
        chosen = copy.copy(sampler if sampler is not None else self.sampler)
        if steps is not None:
            if steps < 1:
                raise ConfigError(f"steps must be at least 1, got {steps}")
            chosen.steps = steps
        return chosen

    def _text(self, prompt: str | None) -> TextFeatures | None:
        if self.text_encoder is None or not (prompt or self.encode_empty_prompt):
            return None
        return self.text_encoder.encode([prompt or ""])

    def _frames(
        self, source, fps: float, size, window: Window, reading: FrameReading, duration: float
    ) -> Tensor:
        start, span = window.start / self.codec.latent_rate, window.frames / self.codec.latent_rate
        count = reading.frames(fps, span, min(span, duration - start) if start else min(span, duration))
        return source.window(fps, size, start, count, reading)

    def _group_frames(
        self, source, fps: float, size, group, reading: FrameReading, duration: float
    ) -> Tensor:
        """The frames of equally long windows, stacked (B, T, 3, H, W); a last window whose video ends a
        frame early (``frame_count="floor"``) repeats its last frame to the others' count."""
        windows = [self._frames(source, fps, size, w, reading, duration) for w in group]
        longest = max(frames.shape[0] for frames in windows)
        padded = [  # only where needed: a concatenation keeps the decoder's strides, which move the numerics
            f if f.shape[0] == longest else torch.cat([f, f[-1:].expand(longest - f.shape[0], -1, -1, -1)])
            for f in windows
        ]
        return torch.stack(padded)

    def _sample_windows(
        self, group, source, noise, text, negative, sampler, cfg, duration, report: _Reporter
    ) -> list[Tensor]:
        """Sample a group of equally long windows in one batch; returns each window's latents (T, C)."""
        rows = len(group)
        visual = sync = None
        if source is not None and self.visual_encoder is not None:
            frames = self._group_frames(
                source, self.visual_encoder.fps, self.visual_size, group, self.visual_reading, duration
            )
            visual = self.visual_encoder.encode(Video(frames.to(self.device), self.visual_encoder.fps))
        if source is not None and self.sync_encoder is not None:
            frames = self._group_frames(
                source, self.sync_encoder.fps, self.sync_size, group, self.sync_reading, duration
            )
            sync = self.sync_encoder.encode(Video(frames.to(self.device), self.sync_encoder.fps))
        conditions = Conditions(text=_repeat(text, rows), visual=visual, sync=sync)
        start = torch.stack([noise[w.start : w.start + w.frames] for w in group]).to(self.device)

        def net(x: Tensor, t: Tensor, given: Conditions) -> Tensor:
            return self.denoiser(x, t, given, None).float()

        velocity = guided_velocity(
            net,
            conditions,
            self.cfg_scale if cfg is None else cfg,
            self.text_cfg_scale,
            negative_text=_repeat(negative, rows),
            prepare=self.denoiser.prepare,
        )
        sampled = sampler.sample(report.watch(velocity), start).float().cpu()
        report.finish_group()
        return list(sampled)

    def _render(self, mono: Mel, source, duration: float) -> Mel:
        """Mono mel → stereo: the renderer with its own view of the video, else both channels the same."""
        if self.renderer is None:
            return Mel(mono.values.repeat(1, 2, 1, 1), mono.sample_rate, mono.frame_rate)
        encoder = getattr(self.renderer, "visual_encoder", None)
        features = None
        if encoder is not None and source is not None:
            count = max(1, round(duration * encoder.fps))
            frames = source.window(encoder.fps, self.visual_size, 0.0, count, self.visual_reading)
            features = encoder.encode(Video(frames[None].to(self.device), encoder.fps))
        return self.renderer.render(_float_mel(mono), features)


class _Reporter:
    """Calls a progress callback: the sampler step is read off the time each velocity call asks for
    (any sampler integrates t from 0 to 1 over its ``timesteps()``), so samplers need no hook."""

    def __init__(self, callback: ProgressCallback | None, groups: int, sampler: Sampler) -> None:
        self.callback, self.groups, self.group = callback, groups, 1
        self.steps = sampler.steps
        self.grid = sampler.timesteps().double()
        self.started = time.perf_counter()
        self.last_step = -1

    def __call__(self, stage: str, step: int = 0) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.started
            self.callback(GenerationProgress(stage, self.group, self.groups, step, self.steps, elapsed))

    def watch(self, velocity: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        """``velocity``, reporting each sampler step once, when its first evaluation is done."""
        if self.callback is None:
            return velocity
        self.last_step = -1

        def reported(x: Tensor, t: Tensor) -> Tensor:
            out = velocity(x, t)
            now = float(t.reshape(-1)[0]) if t.numel() else 0.0
            step = int(torch.searchsorted(self.grid, torch.tensor(now, dtype=torch.float64), right=True))
            step = min(self.steps, max(1, step))
            if step != self.last_step:
                self.last_step = step
                self("sampling", step - 1)
            return out

        return reported

    def finish_group(self) -> None:
        """Report the group's last step as done."""
        self("sampling", self.steps)


def _groups(windows: list[Window], size: int) -> Iterator[list[Window]]:
    """Consecutive windows of equal length, at most ``size`` at a time."""
    group: list[Window] = []
    for window in windows:
        if group and (len(group) == size or group[0].frames != window.frames):
            yield group
            group = []
        group.append(window)
    if group:
        yield group


def _repeat(features, rows: int):
    if features is None:
        return None
    return type(features)(
        **{
            name: value.expand(rows, *value.shape[1:]) if isinstance(value, Tensor) else value
            for name, value in vars(features).items()
        }
    )


def _float_mel(mel: Mel) -> Mel:
    return Mel(mel.values.float(), mel.sample_rate, mel.frame_rate)


def _check_finite(audio: Tensor, video: object, cfg: float, steps: int) -> None:
    """Refuse audio holding NaN or Inf (a diverged sampling): it must never be written or played."""
    bad = int((~torch.isfinite(audio)).sum())
    if bad:
        source = video if isinstance(video, (str, Path)) else "the input"
        raise GenerationError(
            f"{source}: the generated audio holds {bad} NaN or Inf samples, so nothing was written; the "
            f"sampling diverged with guidance scale (--cfg) {cfg:g} and {steps} steps (--steps): "
            "use a smaller --cfg (the bundle's own is a safe choice) or more steps"
        )
