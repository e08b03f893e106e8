"""``foleyzoo eval --protocol av-benchmark``: av-benchmark's metrics computed by its rules, for a paper's table.

Like av-benchmark, it works in two steps: every network embeds every file it needs once, into
{stem: tensor} tables for the generated and the reference folder (:class:`Features`); the metrics are
then computed from those tables under av-benchmark's file rules (:mod:`foleyzoo.metrics.avbench_files`)
and audio loading (:mod:`foleyzoo.metrics.avbench_audio`). Result names are av-benchmark's own
(``FD-PANN``, ``KL-PASST-softmax``, ``IB-Score`` …), so a JSON can be set beside its
``output_metrics.json``. A network whose weights are absent is reported as not computed, with the file
it needs and where it is published; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from foleyzoo.api import Waveform
from foleyzoo.metrics.avbench_audio import AUDIO_SUFFIXES, load_channels, load_mono, long_enough
from foleyzoo.metrics.avbench_files import Pairs, list_media, pair_by_clean_name, pair_exact
from foleyzoo.metrics.avbench_networks import PUBLISHED

__all__ = [
    "AVBenchInputs",
    "Features",
    "NotComputed",
    "avbench_results",
    "gather_avbench_inputs",
    "read_avbench_frames",
]

IS_SPLITS, IS_SEED = 10, 2020


@dataclass
class AVBenchInputs:
    """The generated and reference folders' audio files, the videos and captions, keyed by stem, sorted."""

    generated: dict[str, Path]
    reference: dict[str, Path]
    videos: dict[str, Path] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    ignored: list[Path] = field(default_factory=list)


def gather_avbench_inputs(
    generated: Path, reference: Path | None, videos: Path | None, captions: dict[str, str]
) -> AVBenchInputs:
    """The folders as av-benchmark lists them (``*.wav``/``*.flac``; ``*.mp4`` videos); the videos' own
    soundtracks stand in for a missing reference folder (a foleyzoo extension)."""
    from foleyzoo.errors import ConfigError, MediaError

    for option, source in (("--generated", generated), ("--reference", reference), ("--videos", videos)):
        if source is not None and source.is_file():
            raise ConfigError(
                f"{source}: {option} must be a folder under --protocol av-benchmark (it reads folders); "
                "CSV manifests work with --protocol foleyzoo"
            )
    pred, ignored = list_media(generated, AUDIO_SUFFIXES, "generated audio")
    video_files, ignored_videos = list_media(videos, (".mp4",), "video") if videos else ({}, [])
    if reference is not None:
        gt, ignored_gt = list_media(reference, AUDIO_SUFFIXES, "reference audio")
    elif video_files:
        gt, ignored_gt = dict(video_files), []
    else:
        raise ConfigError(
            "give --reference (a folder of audio) or --videos whose soundtracks are the reference"
        )
    if not pred:
        raise MediaError(f"{generated}: no .wav or .flac files (av-benchmark reads only those)")
    if not gt:
        raise MediaError(f"{reference}: no .wav or .flac files (av-benchmark reads only those)")
    return AVBenchInputs(pred, gt, video_files, captions, ignored + ignored_gt + ignored_videos)


@dataclass
class Features:
    """One network's outputs for one side, {stem: tensor}, in the side's sorted order."""

    values: dict[str, Tensor] = field(default_factory=dict)
    logits: dict[str, Tensor] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NotComputed:
    """A metric that could not be computed, and why (a missing weights file, too few clips …)."""

    metrics: tuple[str, ...]
    reason: str


def _embed_audio_files(
    files: dict[str, Path], load: Callable[[Path], Tensor | None], embed: Callable[[Tensor], Any]
) -> Features:
    """Each file loaded by ``load`` (None: skipped) and embedded by ``embed`` → (values, logits)."""
    out = Features()
    for stem, path in files.items():
        samples = load(path)
        if samples is None:
            out.skipped.append(stem)
            continue
        values, logits = embed(samples)
        out.values[stem] = values
        if logits is not None:
            out.logits[stem] = logits
    return out


def _as_waveform(mono: Tensor, rate: int) -> Waveform:
    return Waveform(mono.reshape(1, 1, -1), rate)


class _Extractor:
    """Computes and keeps each network's feature tables for both sides, once."""

    def __init__(self, inputs: AVBenchInputs, nets: dict[str, Any], duration: float, device: torch.device):
        self.inputs, self.nets, self.duration, self.device = inputs, nets, duration, device
        self.kept: dict[tuple[str, str], Features] = {}

    def side(self, name: str) -> dict[str, Path]:
        return self.inputs.generated if name == "generated" else self.inputs.reference

    def get(self, network: str, side: str) -> Features:
        key = (network, side)
        if key not in self.kept:
            self.kept[key] = getattr(self, f"_{network.replace('-', '_')}")(side)
        return self.kept[key]

    def _mono(self, rate: int) -> Callable[[Path], Tensor]:
        return lambda path: load_mono(path, rate, self.duration).to(self.device)

    def _panns(self, side: str) -> Features:
        net = self.nets["panns"]

        def embed(x: Tensor) -> tuple[Tensor, Tensor]:
            out = net.embed(_as_waveform(x, net.sample_rate))
            return out.values[0].cpu(), out.logits[0].cpu()

        return _embed_audio_files(self.side(side), self._mono(net.sample_rate), embed)

    def _vggish(self, side: str) -> Features:
        net = self.nets["vggish"]
        return _embed_audio_files(
            self.side(side),
            self._mono(net.sample_rate),
            lambda x: (net.embed_examples(_as_waveform(x, net.sample_rate))[0].cpu(), None),
        )

    def _passt(self, side: str) -> Features:
        net = self.nets["passt"]

        def embed(x: Tensor) -> tuple[Tensor, Tensor]:
            out = net.embed(_as_waveform(x, net.sample_rate))
            return out.values[0].cpu(), out.logits[0].cpu()

        return _embed_audio_files(self.side(side), self._mono(net.sample_rate), embed)

    def _laion_clap(self, side: str) -> Features:
        net = self.nets["laion-clap"]
        return _embed_audio_files(
            self.side(side),
            self._mono(net.sample_rate),
            lambda x: (net.embed(_as_waveform(x, net.sample_rate)).values[0].cpu(), None),
        )

    def _imagebind(self, side: str) -> Features:
        net = self.nets["imagebind"]
        rate = net.sample_rate
        return _embed_audio_files(
            self.side(side),
            lambda path: load_channels(path, rate).to(self.device),
            lambda x: (net.embed(Waveform(x[None], rate)).values[0].cpu(), None),
        )

    def _synchformer(self, side: str) -> Features:
        net = self.nets["synchformer"]
        rate = net.sample_rate

        def load(path: Path) -> Tensor | None:
            mono = load_mono(path, rate, self.duration, remove_dc=False)
            return mono.to(self.device) if long_enough(mono, rate, self.duration) else None

        return _embed_audio_files(
            self.side(side), load, lambda x: (net.audio_features(x[None])[0].cpu(), None)
        )

    def _imagebind_video(self, side: str) -> Features:
        net = self.nets["imagebind-video"]
        out = Features()
        for stem, path in self.inputs.videos.items():
            frames = read_avbench_frames(path, IMAGEBIND_FPS, self.duration)
            # av-benchmark decodes both rates together and drops a video too short for either
            if frames is not None and read_avbench_frames(path, SYNC_FPS, self.duration, square=8) is None:
                frames = None
            if frames is None:
                out.skipped.append(stem)
            else:
                out.values[stem] = net.embed_frames(frames).cpu()
        return out

    def _synchformer_video(self, side: str) -> Features:
        net = self.nets["synchformer"]
        out = Features()
        for stem, path in self.inputs.videos.items():
            frames = read_avbench_frames(path, SYNC_FPS, self.duration, square=SYNC_SIZE)
            if frames is None:
                out.skipped.append(stem)
            else:
                scaled = (
                    frames.permute(0, 3, 1, 2).float().div(255).sub(0.5).div(0.5)
                )  # ToDtype, Normalize(0.5, 0.5)
                out.values[stem] = net.video_features(scaled[None].to(self.device))[0].cpu()
        return out


IMAGEBIND_FPS, SYNC_FPS, SYNC_SIZE = 0.5, 25.0, 224
"""av-benchmark decodes videos twice: at 0.5 fps for ImageBind, at 25 fps for Synchformer (224 px squares)."""


def read_avbench_frames(path: Path, fps: float, duration: float, square: int | None = None) -> Tensor | None:
    """The first ``int(fps · duration)`` frames at ``fps``, uint8 (T, H, W, 3), or None when the video has fewer.

    av-benchmark decodes with FFmpeg's ``fps`` filter (torio's ``StreamingMediaDecoder``), which shows at
    each instant the first frame at or after it: foleyzoo's reader with ``pick="next"``. ``square``
    resizes the shorter side to that many pixels (bicubic, antialiased, on the 8-bit frame, as
    torchvision resizes a uint8 tensor) and centre-crops (Synchformer's transform); without it frames
    keep their size (ImageBind resizes them itself).
    """
    from foleyzoo.io.media import read_video_frames

    if square is None:
        frames, _ = read_video_frames(path, fps, pick="next")
    else:
        frames, _ = read_video_frames(
            path, fps, size=(square, square), pick="next", resize="bicubic", fit="crop"
        )
    count = int(fps * duration)
    if frames.shape[0] < count:
        return None
    return (frames[:count] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _stack(features: dict[str, Tensor], keys: Sequence[str]) -> Tensor:
    """The rows of ``keys`` stacked in order; an empty (0, 0) tensor for no keys (no pairs)."""
    return torch.stack([features[key] for key in keys]) if keys else torch.zeros(0, 0)


def _numpy(tensor: Tensor) -> Any:
    return tensor.float().numpy()


class _Results:
    """Collects results, the pairs each metric used, and what could not be computed."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.pairs: dict[str, int] = {}
        self.unpaired: dict[str, list[str]] = {}
        self.not_computed: list[NotComputed] = []

    def add(self, name: str, value: float, pairs: Pairs | None = None) -> None:
        self.values[name] = float(value)
        if pairs is not None:
            self.pairs[name] = len(pairs)
            if pairs.unpaired:
                self.unpaired[name] = pairs.unpaired

    def missing(self, metrics: Sequence[str], reason: str) -> None:
        self.not_computed.append(NotComputed(tuple(metrics), reason))


def _frechet(
    results: _Results,
    name: str,
    generated: Tensor,
    reference: Tensor,
    pairs: Pairs | None = None,
    too_few: str = "a covariance needs at least 2 embeddings on each side",
) -> None:
    """av-benchmark's FD of the two sets (``pairs``: the pairs they came from, for the record)."""
    from foleyzoo.metrics.frechet import avbench_frechet_distance

    if generated.shape[0] < 2 or reference.shape[0] < 2:
        results.missing([name], too_few)
        return
    results.add(name, avbench_frechet_distance(_numpy(generated), _numpy(reference)), pairs)


def _kl(generated: Tensor, reference: Tensor) -> float:
    """av-benchmark's KL-*-softmax: Σ KL(softmax(reference) ‖ softmax(generated)) / pairs."""
    from foleyzoo.metrics.classifier import paired_kl

    return float(paired_kl(generated, reference).mean())


def _inception(results: _Results, name: str, logits: Tensor) -> None:
    from foleyzoo.metrics.classifier import inception_score

    if logits.shape[0] < IS_SPLITS:
        results.missing(
            [f"{name}-mean", f"{name}-std"],
            f"the Inception Score over {IS_SPLITS} splits needs at least {IS_SPLITS} generated clips, "
            f"got {logits.shape[0]} (av-benchmark would print NaN)",
        )
        return
    mean, std = inception_score(logits, IS_SPLITS, IS_SEED)
    results.add(f"{name}-mean", mean)
    results.add(f"{name}-std", std)


def _cosine(results: _Results, name: str, reference: Features, generated: Features) -> None:
    """Mean cosine over the pairs (reference keys: videos or caption names; generated keys cleaned)."""
    pairs = pair_by_clean_name(list(reference.values), list(generated.values))
    if not len(pairs):
        results.missing([name], "no generated clip pairs with a reference (video or caption)")
        return
    similarity = torch.cosine_similarity(
        _stack(reference.values, pairs.reference), _stack(generated.values, pairs.generated), dim=-1
    )
    results.add(name, float(similarity.mean()), pairs)
    if reference.skipped:
        results.unpaired.setdefault(name, []).extend(
            f"{stem} (video too short)" for stem in reference.skipped
        )


def _all(features: Features, logits: bool = False) -> Tensor:
    """Every file's row, in the side's sorted order (FD-PANN, ISC-PANNS)."""
    table = features.logits if logits else features.values
    return _stack(table, list(table))


def _panns_metrics(results: _Results, extract: _Extractor, wanted: set[str]) -> None:
    gen, ref = extract.get("panns", "generated"), extract.get("panns", "reference")
    if "fd" in wanted:
        _frechet(results, "FD-PANN", _all(gen), _all(ref))
    if "kl" in wanted:
        pairs = pair_exact(list(ref.logits), list(gen.logits))
        if len(pairs):
            kl = _kl(_stack(gen.logits, pairs.generated), _stack(ref.logits, pairs.reference))
            results.add("KL-PANNS-softmax", kl, pairs)
        else:
            results.missing(["KL-PANNS-softmax"], "no generated file has the stem of a reference file")
    if "is" in wanted:
        _inception(results, "ISC-PANNS", _all(gen, logits=True))


def _passt_metrics(results: _Results, extract: _Extractor, wanted: set[str]) -> None:
    gen, ref = extract.get("passt", "generated"), extract.get("passt", "reference")
    pairs = pair_by_clean_name(list(ref.values), list(gen.values))
    generated, reference = _stack(gen.values, pairs.generated), _stack(ref.values, pairs.reference)
    if "fd" in wanted:
        too_few = "fewer than 2 generated clips pair with a reference clip"
        _frechet(results, "FD-PASST", generated, reference, pairs, too_few)
    generated, reference = _stack(gen.logits, pairs.generated), _stack(ref.logits, pairs.reference)
    if "kl" in wanted:
        if len(pairs):
            results.add("KL-PASST-softmax", _kl(generated, reference), pairs)
        else:
            results.missing(["KL-PASST-softmax"], "no generated clip pairs with a reference clip")
    if "is" in wanted:
        _inception(results, "ISC-PASST", generated)


def avbench_results(
    inputs: AVBenchInputs,
    nets: dict[str, Any],
    metrics: Sequence[str],
    duration: float,
    device: torch.device,
    absent: dict[str, str],
    tables: dict[tuple[str, str], Features] | None = None,
) -> _Results:
    """Every av-benchmark metric the networks and inputs allow → a :class:`_Results`.

    ``absent`` maps a network name whose weights file is missing to the message naming it; its metrics
    are listed as not computed, as are those that lack their videos or captions. ``metrics`` selects
    among ``fd kl is ib-score desync clap``. ``tables`` gives feature tables already computed,
    {(network, side): Features} (a test feeds recorded ones).
    """
    results = _Results()
    extract = _Extractor(inputs, nets, duration, device)
    extract.kept.update(tables or {})
    wanted = set(metrics)
    for network, message in absent.items():
        names = [m for m in PUBLISHED[network].results if _metric_key(m) in wanted]
        if names:
            results.missing(names, message)
    if "fd" in wanted and "vggish" in nets:
        gen, ref = extract.get("vggish", "generated"), extract.get("vggish", "reference")
        examples = [torch.cat(list(side.values.values())) for side in (gen, ref)]  # every 0.96 s example
        _frechet(results, "FD-VGG", *examples)
    if "panns" in nets:
        _panns_metrics(results, extract, wanted)
    if "passt" in nets:
        _passt_metrics(results, extract, wanted)
    for network, metric, name, need in (
        ("imagebind", "ib-score", "IB-Score", "videos"),
        ("synchformer", "desync", "DeSync", "videos"),
        ("laion-clap", "clap", "LAION-CLAP-Score", "captions"),
    ):
        if metric in wanted and network in nets and not getattr(inputs, need):
            results.missing([name], f"needs the input {need} (--{need})")
    if "ib-score" in wanted and "imagebind" in nets and inputs.videos:
        videos, audio = extract.get("imagebind_video", "reference"), extract.get("imagebind", "generated")
        _cosine(results, "IB-Score", videos, audio)
    if "desync" in wanted and "synchformer" in nets and inputs.videos:
        videos, audio = extract.get("synchformer_video", "reference"), extract.get("synchformer", "generated")
        _desync(results, nets["synchformer"], videos, audio)
    if "clap" in wanted and "laion-clap" in nets and inputs.captions:
        text_net = nets["laion-clap-text"]
        text = Features({key: text_net.embed([c]).values[0].cpu() for key, c in inputs.captions.items()})
        _cosine(results, "LAION-CLAP-Score", text, extract.get("laion_clap", "generated"))
    return results


def _desync(results: _Results, net: Any, video: Features, audio: Features) -> None:
    """Mean |offset| over the first and the last 14 segments of every pair (av-benchmark's DeSync)."""
    pairs = pair_by_clean_name(list(video.values), list(audio.values))
    if not len(pairs):
        results.missing(["DeSync"], "no generated clip of the full length pairs with a readable video")
        return
    offsets: list[float] = []
    for gen_key, ref_key in zip(pairs.generated, pairs.reference, strict=True):
        first_and_last = net.desync(video.values[ref_key][None], audio.values[gen_key][None])[0]
        offsets += [abs(float(offset)) for offset in first_and_last]
    results.add("DeSync", float(np.mean(offsets)), pairs)
    skipped = [f"{stem} (audio shorter than the duration)" for stem in audio.skipped]
    skipped += [f"{stem} (video too short)" for stem in video.skipped]
    if skipped:
        results.unpaired.setdefault("DeSync", []).extend(skipped)


def _metric_key(result: str) -> str:
    """The ``--metrics`` name a result belongs to: FD-* → fd, KL-* → kl, ISC-* → is, …"""
    prefix = result.split("-")[0]
    return {"FD": "fd", "KL": "kl", "ISC": "is", "IB": "ib-score", "DeSync": "desync", "LAION": "clap"}[
        prefix
    ]
