"""One adapter per metric of ``foleyzoo eval``: what it needs, how it takes a chunk, what it reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from foleyzoo.errors import ConfigError, MediaError
from foleyzoo.metrics.clips import Chunk, EvalSettings
from foleyzoo.metrics.inputs import Inputs
from foleyzoo.metrics.networks import AUDIO_EMBEDDERS, EMBEDDER_NAMES, FD_LABELS, fd_networks

__all__ = ["ADAPTERS", "METRICS", "MetricAdapter", "direction", "truth_files"]


class MetricAdapter:
    """One metric of ``foleyzoo eval``: what it needs, how it takes a chunk, what it reports."""

    key: str = ""
    direction: str = ""
    need: str = ""
    """What to give when :meth:`available` is False (for the error message)."""

    def __init__(self, settings: EvalSettings, nets: dict[str, Any], inputs: Inputs) -> None:
        self.settings, self.nets, self.inputs = settings, nets, inputs

    @classmethod
    def available(cls, paths: dict[str, Path], inputs: Inputs) -> bool:
        """Whether the networks named and the inputs given allow this metric."""
        raise NotImplementedError

    def update(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def results(self) -> dict[str, float]:
        raise NotImplementedError


class FrechetAdapter(MetricAdapter):
    key, direction = "fd", "lower"
    need = "an audio network: --embedders panns=… vggish=… or contrastive=… (or a registered embedder)"

    @classmethod
    def available(cls, paths, inputs):
        return bool(set(paths) & (set(AUDIO_EMBEDDERS) | (set(paths) - set(EMBEDDER_NAMES))))

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.frechet import FrechetDistance

        super().__init__(settings, nets, inputs)
        self.distances = {name: FrechetDistance() for name in fd_networks(nets)}

    def update(self, chunk):
        for name, distance in self.distances.items():
            net = self.nets[name]
            if hasattr(net, "embed_examples"):  # VGGish pools every 0.96 s example
                rate = net.sample_rate
                generated = net.embed_examples(chunk.audio("generated", rate))
                reference = net.embed_examples(chunk.audio("reference", rate))
            else:
                generated = chunk.embedding(name, "generated").values
                reference = chunk.embedding(name, "reference").values
            distance.update(generated=generated.cpu(), reference=reference.cpu())

    def results(self):
        return {f"FD-{FD_LABELS.get(name, name)}": float(d.compute()) for name, d in self.distances.items()}


def _video_embedding(chunk: Chunk) -> torch.Tensor:
    net = chunk.nets["contrastive-video"]
    return chunk._once(
        ("video-embed",), lambda: net.embed(chunk.frames(net.fps, net.frame_size)).values.cpu()
    )


class FrechetAudioVisualAdapter(MetricAdapter):
    key, direction, need = "favd", "lower", "--embedders contrastive=CKPT and --videos"

    @classmethod
    def available(cls, paths, inputs):
        return "contrastive" in paths and bool(inputs.videos)

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.frechet import FrechetAudioVisualDistance

        super().__init__(settings, nets, inputs)
        self.metric = FrechetAudioVisualDistance()

    def update(self, chunk):
        self.metric.update(
            generated=chunk.embedding("contrastive", "generated").values.cpu(),
            reference=chunk.embedding("contrastive", "reference").values.cpu(),
            video=_video_embedding(chunk),
        )

    def results(self):
        return {"FAVD-AVContrastive": float(self.metric.compute())}


class KLAdapter(MetricAdapter):
    key, direction, need = "kl", "lower", "PANNs logits: --embedders panns=PATH"

    @classmethod
    def available(cls, paths, inputs):
        return "panns" in paths

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.classifier import KLDivergence

        super().__init__(settings, nets, inputs)
        self.metric = KLDivergence()

    def update(self, chunk):
        generated, reference = chunk.embedding("panns", "generated"), chunk.embedding("panns", "reference")
        self.metric.update(generated.logits.cpu(), reference.logits.cpu())

    def results(self):
        return {"KL-PANNs": float(self.metric.compute())}


class InceptionAdapter(MetricAdapter):
    key, direction, need = "is", "higher", "PANNs logits: --embedders panns=PATH"

    @classmethod
    def available(cls, paths, inputs):
        return "panns" in paths

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.classifier import InceptionScore

        super().__init__(settings, nets, inputs)
        self.metric = InceptionScore(splits=settings.is_splits, seed=settings.is_seed)

    def update(self, chunk):
        self.metric.update(chunk.embedding("panns", "generated").logits.cpu())

    def results(self):
        mean, std = self.metric.compute()
        return {"IS-PANNs": float(mean), "IS-PANNs-std": float(std)}


class AlignmentAdapter(MetricAdapter):
    key, direction, need = "av-align", "higher", "--embedders contrastive=CKPT and --videos"

    @classmethod
    def available(cls, paths, inputs):
        return "contrastive" in paths and bool(inputs.videos)

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.similarity import AVAlignment

        super().__init__(settings, nets, inputs)
        self.metric = AVAlignment()

    def update(self, chunk):
        self.metric.update(chunk.embedding("contrastive", "generated").values.cpu(), _video_embedding(chunk))

    def results(self):
        return {"AV-Align-AVContrastive": float(self.metric.compute())}


class DeSyncAdapter(MetricAdapter):
    key, direction, need = "desync", "lower", "--embedders sync=CKPT and --videos"

    @classmethod
    def available(cls, paths, inputs):
        return "sync" in paths and bool(inputs.videos)

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.desync import DeSync

        super().__init__(settings, nets, inputs)
        self.metric = DeSync()

    def update(self, chunk):
        sync = self.nets["sync"]
        video = chunk.frames(sync.fps, sync.frame_size)
        self.metric.update(sync.predict_offsets(video, chunk.audio("generated", sync.sample_rate)))

    def results(self):
        return {"DeSync-SyncPretraining": float(self.metric.compute())}


class ClapAdapter(MetricAdapter):
    key, direction, need = "clap", "higher", "--embedders clap=DIR and captions (--captions)"

    @classmethod
    def available(cls, paths, inputs):
        return "clap" in paths and bool(inputs.captions)

    def __init__(self, settings, nets, inputs):
        from foleyzoo.metrics.similarity import TextAudioScore

        super().__init__(settings, nets, inputs)
        self.metric = TextAudioScore()

    def update(self, chunk):
        missing = [i for i in chunk.ids if not self.inputs.captions.get(i)]
        if missing:
            raise ConfigError(
                f"metric 'clap' needs a caption for every clip; none for {', '.join(missing[:5])}"
            )
        text = self.nets["clap-text"].embed([self.inputs.captions[i] for i in chunk.ids]).values
        self.metric.update(text.cpu(), chunk.embedding("clap", "generated").values.cpu())

    def results(self):
        return {"CLAP": float(self.metric.compute())}


class SynthFoleyAdapter(MetricAdapter):
    key, need = "synthfoley", ""
    measures = (
        "f1",
        "precision",
        "recall",
        "median_offset_ms",
        "class_accuracy",
        "pan_error",
        "silent_false_alarms",
    )

    @classmethod
    def available(cls, paths, inputs):
        return True

    def __init__(self, settings, nets, inputs):
        from foleyzoo.synthfoley.evaluation import SynthFoleyScores

        super().__init__(settings, nets, inputs)
        self.metric = SynthFoleyScores()
        self.truths = truth_files(inputs)

    def update(self, chunk):
        from foleyzoo.io.media import read_audio
        from foleyzoo.synthfoley.scorer import SAMPLE_RATE, GroundTruth

        files = chunk.files("generated")
        stereo = torch.stack(
            [read_audio(p, SAMPLE_RATE, channels=2, duration=self.settings.duration) for p in files]
        )
        truths = [GroundTruth.load(self.truths[i]) for i in chunk.ids]
        self.metric.update(stereo, truths, stems=list(chunk.ids), sample_rate=SAMPLE_RATE)

    def results(self):
        summary = self.metric.compute()
        return {f"SynthFoley-{key}": summary[key] for key in self.measures}


ADAPTERS: dict[str, type[MetricAdapter]] = {
    adapter.key: adapter
    for adapter in (
        FrechetAdapter,
        FrechetAudioVisualAdapter,
        KLAdapter,
        InceptionAdapter,
        AlignmentAdapter,
        DeSyncAdapter,
        ClapAdapter,
        SynthFoleyAdapter,
    )
}
METRICS = tuple(ADAPTERS)


def truth_files(inputs: Inputs, required: bool = True) -> dict[str, Path]:
    """``<stem>.json`` SynthFoley ground truth beside the reference files or the videos, for every pair."""
    found, missing = {}, []
    for stem in inputs.ids:
        candidates = [inputs.reference[stem].with_suffix(".json")]
        if stem in inputs.videos:
            candidates.append(inputs.videos[stem].with_suffix(".json"))
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(stem)
        else:
            found[stem] = path
    if missing and required:
        raise MediaError(
            f"metric 'synthfoley' needs <stem>.json ground truth beside the reference files or videos; "
            f"none for {len(missing)} clip(s): {', '.join(missing[:5])}"
        )
    return found if not missing else {}


def direction(name: str) -> str:
    """``lower``, ``higher`` or ``""``: which way a result name is better."""
    from foleyzoo.synthfoley.evaluation import SYNTHFOLEY_DIRECTIONS

    if name.startswith("SynthFoley-"):
        return SYNTHFOLEY_DIRECTIONS.get(name.removeprefix("SynthFoley-"), "")
    if name == "IS-PANNs-std":
        return ""
    prefix = name.split("-")[0]
    key = {"FD": "fd", "FAVD": "favd", "KL": "kl", "IS": "is", "AV": "av-align", "DeSync": "desync"}.get(
        prefix
    )
    return ADAPTERS[key or "clap"].direction
