"""Synchformer as av-benchmark's DeSync uses it: the whole published network and the embedder around it."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import torch
from torch import Tensor, nn

from foleyzoo.api import Embedder, Embedding, Video, Waveform
from foleyzoo.data.audio import resample, to_mono
from foleyzoo.embedders.synchformer.audio import AudioFeatureExtractor, SyncLogMel, cut_audio_segments
from foleyzoo.embedders.synchformer.head import WINDOW_SEGMENTS, OffsetTransformer, offset_grid
from foleyzoo.embedders.synchformer.video import FPS, preprocess_sync_frames
from foleyzoo.encoders.sync.synchformer import Synchformer
from foleyzoo.errors import ConfigError
from foleyzoo.io.checkpoints import read_weights, state_dict_mismatch
from foleyzoo.zoo.testing import random_state_dict

__all__ = ["MANIFEST", "SynchformerDeSync", "SynchformerNetwork", "desync_score", "random_synchformer_state"]

MANIFEST = Path(__file__).resolve().parents[1] / "manifests" / "synchformer.json"
SAMPLE_RATE = 16000
DIM = 768


class SynchformerNetwork(nn.Module):
    """The published ``synchformer_state_dict.pth`` as modules: every key loads strictly.

    ``vfeat_extractor`` is foleyzoo's visual :class:`~foleyzoo.encoders.sync.synchformer.Synchformer`,
    ``afeat_extractor`` the AST audio extractor, ``vproj``/``aproj`` the projections before the offset
    classifier ``transformer``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.vfeat_extractor = Synchformer()
        self.afeat_extractor = AudioFeatureExtractor()
        self.vproj = nn.Linear(DIM, DIM)
        self.aproj = nn.Linear(DIM, DIM)
        self.transformer = OffsetTransformer()

    def compare(self, visual: Tensor, audio: Tensor) -> Tensor:
        """Visual (B, 14, 8, D) and audio (B, 14, 6, D) features → offset logits (B, 21)."""
        return self.transformer(self.vproj(visual).flatten(1, 2), self.aproj(audio).flatten(1, 2))


class SynchformerDeSync(Embedder):
    """Synchformer (Iashin et al. 2024, the AudioSet model ``24-01-04T16-39-21``) computing av-benchmark's DeSync.

    av-benchmark stores, per clip, the audio features of the generated audio (16 kHz, first ``duration``
    seconds: 24 segments of 0.64 s every 0.32 s for 8 s) and the visual features of the video (25 fps,
    224 px: 24 segments of 16 frames every 8 frames for 8 s); DeSync is the mean over clips and over the
    first and the last 14 segments of |predicted offset|, the offset being the argmax of 21 classes on
    ``linspace(−2, 2, 21)`` seconds. Plain-tensor steps:

    - :meth:`audio_features`: 16 kHz waveforms (B, N) → (B, S, 6, 768), S = (N − 10240) // 5120 + 1.
    - :func:`~foleyzoo.embedders.synchformer.video.preprocess_sync_frames` then :meth:`video_features`:
      frames (B, T, 3, 224, 224) → (B, S, 8, 768), S = (T − 16) // 8 + 1.
    - :meth:`offset_logits` (14 segments each) → (B, 21); :meth:`desync` → signed offsets (B, 2) of the
      first and the last 14 segments; :func:`desync_score` → the metric.

    :meth:`embed` takes audio (:class:`~foleyzoo.api.Waveform`, mixed to mono and resampled to 16 kHz if
    needed, cut to ``duration``; shorter clips are refused, as av-benchmark drops them) or video
    (:class:`~foleyzoo.api.Video` at 25 fps in [0, 1], quantised to 8 bits, preprocessed, cut to
    ``duration``) and returns the features flattened to (B, S · 6 · 768) or (B, S · 8 · 768).
    """

    modality = "audio"
    sample_rate = SAMPLE_RATE
    fps = FPS
    weights_file = "synchformer_state_dict.pth"
    weights_url = "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth"
    weights_licence = (
        "distributed with MMAudio (checkpoints CC-BY-NC 4.0 per its README); Synchformer by Iashin et al., "
        "https://github.com/v-iashin/Synchformer (MIT code)"
    )
    published_sha256: str | None = "8aff082f2df5c3bc52759db0c865c7ee772ae6400b860d1b7e90413f2defb67c"
    """From the Git LFS pointer of ``ext_weights/synchformer_state_dict.pth`` in the Hugging Face repository
    hkchengrex/MMAudio (950 MB, the 907 MiB of the GitHub release); the release itself lists only the MD5."""
    published_md5 = "5b2f5594b0730f70e41e549b7c94390c"

    def __init__(self, checkpoint: str, duration: float = 8.0, segments_per_batch: int | None = None) -> None:
        super().__init__()
        self.checkpoint = str(Path(checkpoint).expanduser())
        self.duration, self.segments_per_batch = duration, segments_per_batch
        path = Path(self.checkpoint)
        if not path.is_file():
            raise ConfigError(
                f"{path}: Synchformer weights not found (the file {self.weights_file}, which av-benchmark's "
                f"DeSync reads); download it from {self.weights_url}"
            )
        state = read_weights(path, "Synchformer", ())
        expected = {key: torch.empty(shape, device="meta") for key, shape in self.official_shapes().items()}
        problem = state_dict_mismatch(expected, dict(state))
        if problem:  # checked against the manifest first: no network is built for a wrong file
            raise ConfigError(
                f"{path}: not Synchformer's {self.weights_file} (the weights do not fit: {problem})"
            )
        self.network = SynchformerNetwork()
        self.network.load_state_dict(state, strict=True)
        self.network.requires_grad_(False)
        self.mel = SyncLogMel()
        self.eval()

    def train(self, mode: bool = True) -> SynchformerDeSync:
        return super().train(False)  # an evaluation network: always in eval mode

    @classmethod
    def official_shapes(cls) -> dict[str, list[int]]:
        """Every key of the published file with its shape, from the manifest."""
        return dict(_manifest()["keys"])

    # ------------------------------------------------------------------ plain tensors

    @torch.no_grad()
    def audio_features(self, wave: Tensor) -> Tensor:
        """16 kHz mono waveforms (B, N) → (B, S, 6, 768), as av-benchmark's ``encode_audio_with_sync``."""
        weight = self.network.aproj.weight
        spec = self.mel(cut_audio_segments(wave.to(weight)))
        return self.network.afeat_extractor(spec)

    @torch.no_grad()
    def video_features(self, frames: Tensor) -> Tensor:
        """Preprocessed frames (B, T, 3, 224, 224) → (B, S, 8, 768), as ``encode_video_with_sync``."""
        weight = self.network.vproj.weight
        flat = self.network.vfeat_extractor.mmaudio_features(frames.to(weight), self.segments_per_batch)
        return flat.unflatten(1, (-1, 8))

    @torch.no_grad()
    def offset_logits(self, visual: Tensor, audio: Tensor) -> Tensor:
        """Visual (B, 14, 8, 768) and audio (B, 14, 6, 768) features → logits (B, 21) (``compare_v_a``)."""
        if visual.shape[1] != WINDOW_SEGMENTS or audio.shape[1] != WINDOW_SEGMENTS:
            raise ValueError(
                f"offset_logits compares {WINDOW_SEGMENTS} segments, got {visual.shape[1]} visual and "
                f"{audio.shape[1]} audio"
            )
        weight = self.network.vproj.weight
        return self.network.compare(visual.to(weight), audio.to(weight)).float()

    @torch.no_grad()
    def desync(self, visual: Tensor, audio: Tensor) -> Tensor:
        """Features (B, S, 8 | 6, 768), S ≥ 14 → predicted offsets (B, 2) in seconds, signed, of the first and
        the last 14 segments (the same window when S = 14); DeSync averages their absolute values."""
        grid = offset_grid().to(visual.device)
        halves = [(visual[:, :WINDOW_SEGMENTS], audio[:, :WINDOW_SEGMENTS])]
        halves.append((visual[:, -WINDOW_SEGMENTS:], audio[:, -WINDOW_SEGMENTS:]))
        return torch.stack([grid[self.offset_logits(v, a).argmax(dim=-1)] for v, a in halves], dim=1)

    # ------------------------------------------------------------------ the Embedder interface

    def embed(self, inputs: Waveform | Video | Sequence[str]) -> Embedding:
        if isinstance(inputs, Waveform):
            return Embedding(values=self.audio_features(self._audio(inputs)).flatten(1))
        if isinstance(inputs, Video):
            return Embedding(values=self.video_features(self._frames(inputs)).flatten(1))
        raise TypeError(f"SynchformerDeSync embeds a Waveform or a Video, got {type(inputs).__name__}")

    def _audio(self, inputs: Waveform) -> Tensor:
        """Mono, 16 kHz, the first ``duration`` seconds (no DC removal, as av-benchmark's Synchformer loader)."""
        audio = resample(to_mono(inputs.samples.float()), inputs.sample_rate, SAMPLE_RATE)[:, 0]
        length = int(SAMPLE_RATE * self.duration)
        if audio.shape[-1] < length:
            raise ValueError(
                f"Synchformer reads {self.duration} s clips ({length} samples at 16 kHz), got {audio.shape[-1]}: "
                "av-benchmark leaves shorter clips out of DeSync"
            )
        return audio[:, :length]

    def _frames(self, inputs: Video) -> Tensor:
        if not math.isclose(inputs.fps, FPS):
            raise ValueError(f"Synchformer reads {FPS:g} fps video, got {inputs.fps:g} fps")
        length = int(FPS * self.duration)
        if inputs.frames.shape[1] < length:
            raise ValueError(
                f"Synchformer reads {self.duration} s of video ({length} frames), got {inputs.frames.shape[1]}: "
                "av-benchmark leaves shorter videos out of DeSync"
            )
        frames = (inputs.frames[:, :length].float().clamp(0, 1) * 255).round().to(torch.uint8)
        return torch.stack([preprocess_sync_frames(clip.cpu()) for clip in frames]).to(inputs.frames.device)


def desync_score(offsets: Tensor) -> float:
    """DeSync from :meth:`SynchformerDeSync.desync`'s offsets of every clip (N, 2): the mean of their absolute values."""
    return float(offsets.double().abs().mean())


def random_synchformer_state(seed: int) -> dict[str, Tensor]:
    """Seeded random weights under every published key (:func:`~foleyzoo.zoo.testing.random_state_dict`),
    LayerNorm gains (the 1-D ``weight`` tensors) moved to 1 + N(0, 0.1²) so signals keep their scale."""
    state = random_state_dict(SynchformerDeSync.official_shapes(), seed)
    for key, value in state.items():
        if key.endswith("weight") and value.dim() == 1 and not key.endswith("norm.weight"):
            state[key] = 1.0 + 0.5 * value
    return state


@cache
def _manifest() -> dict:
    return json.loads(MANIFEST.read_text())
