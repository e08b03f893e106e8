"""Conformance checks a plugin package runs in its own tests: ``check_plugin(MyClass)``.

The same rules foleyzoo applies when it loads an entry point (right base class, not abstract, name and
API version), then the behaviour every user of the interface relies on, exercised on a small instance:
a sampler integrates a known flow, a text encoder's tokens, mask and pooled vector agree with its
``embed_dim``, a frame encoder keeps its time base and the frame mask (or gives one at its feature rate
when that differs from its frame rate), an attention backend equals the reference or says why it cannot
run, and so on. A failure is an ``AssertionError`` naming the plugin
and the broken promise.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from importlib import metadata
from typing import Any

import torch

from foleyzoo.api import (
    INTERFACE_GROUPS,
    AttentionBackend,
    AudioCodec,
    Conditions,
    Denoiser,
    Latents,
    Mel,
    Sampler,
    StereoRenderer,
    SyncEncoder,
    TextEncoder,
    Video,
    VisualEncoder,
    Vocoder,
    Waveform,
)
from foleyzoo.plugins.registry import validate_plugin

__all__ = ["check_plugin", "group_of"]


def group_of(cls: type) -> str:
    """The entry-point group whose interface ``cls`` implements (the most specific, if several)."""
    found = [
        group for group, base in INTERFACE_GROUPS.items() if inspect.isclass(cls) and issubclass(cls, base)
    ]
    if not found:
        raise AssertionError(f"{cls!r} implements none of foleyzoo's plugin interfaces")
    return found[0]


def check_plugin(
    cls: type,
    *args: Any,
    group: str | None = None,
    name: str | None = None,
    instance: Any | None = None,
    **kwargs: Any,
) -> Any:
    """Assert that ``cls`` is a valid plugin of its interface and behaves like one; returns the instance.

    ``cls(*args, **kwargs)`` is built unless ``instance`` is given (pass one where building needs
    weights). ``name`` is the entry-point name (default: the class name); ``group`` defaults to the
    interface the class implements. Where the class is installed as a plugin, its entry point must
    point at the class itself.
    """
    group = group or group_of(cls)
    name = name or cls.__name__
    problem = validate_plugin(group, name, cls)
    assert not problem, f"{group}:{name}: {problem}"
    _check_entry_point(cls, group, name)
    built = cls(*args, **kwargs) if instance is None else instance
    assert isinstance(built, INTERFACE_GROUPS[group]), f"{name}: {built!r} is not a {INTERFACE_GROUPS[group]}"
    check = CONTRACTS.get(INTERFACE_GROUPS[group])
    if check is not None:
        with torch.no_grad():
            check(built, name)
    return built


def _check_entry_point(cls: type, group: str, name: str) -> None:
    """An installed entry point of this group and name must target the class's own import path."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == group and ep.name == name and ep.value.split(":")[0] == cls.__module__:
                assert ep.value == target, f"{group}:{name}: entry point {ep.value} is not {target}"


# --------------------------------------------------------------------------- the contracts


def _sampler(sampler: Sampler, name: str) -> None:
    """dx/dt = t·x from x(0) = x0 has x(1) = x0·e^{1/2}; with 64 steps a sampler must get close."""
    sampler.steps = 64
    noise = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    times: list[torch.Tensor] = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (x.shape[0],) and t.dtype == x.dtype, f"{name}: t must be (B,) of x's dtype"
        times.append(t)
        return t[:, None] * x

    result = sampler.sample(velocity, noise)
    assert result.shape == noise.shape, f"{name}: sample() changed the shape"
    assert torch.allclose(result, noise * math.exp(0.5), rtol=2e-2), f"{name}: does not integrate dx/dt = t·x"
    seen = torch.cat(times)
    assert seen.min() >= 0 and seen.max() <= 1, f"{name}: asked for times outside [0, 1]"


def _text_encoder(encoder: TextEncoder, name: str) -> None:
    features = encoder.encode(["a bell", "", "a wooden knock and a glass clink"])
    batch, length, dim = features.tokens.shape
    assert batch == 3 and dim == encoder.embed_dim, f"{name}: tokens are not (3, L, embed_dim)"
    assert features.pooled.shape == (3, encoder.embed_dim), f"{name}: pooled is not (3, embed_dim)"
    assert features.mask.dtype == torch.bool and features.mask.shape == (3, length), f"{name}: bad mask"
    assert features.mask.sum(1)[2] > features.mask.sum(1)[0], f"{name}: a longer prompt has no more tokens"
    assert torch.isfinite(features.tokens).all() and torch.isfinite(features.pooled).all(), (
        f"{name}: non-finite"
    )
    again = encoder.encode(["a bell"])
    assert torch.allclose(again.pooled[0], features.pooled[0], atol=1e-5), f"{name}: depends on the batch"


def _frame_encoder(encoder: VisualEncoder | SyncEncoder, name: str) -> None:
    encoder.eval()
    rate = encoder.feature_rate if isinstance(encoder, SyncEncoder) else encoder.fps
    frames = torch.rand(2, max(1, round(encoder.fps)), 3, 64, 64, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, frames.shape[1], dtype=torch.bool)
    features = encoder.encode(Video(frames, fps=encoder.fps, mask=mask))
    expected = (2, max(1, round(rate)), encoder.embed_dim)
    assert features.values.shape == expected, (
        f"{name}: features {tuple(features.values.shape)}, not {expected}"
    )
    assert features.fps == rate, f"{name}: features at {features.fps} a second, not {rate}"
    assert features.mask is not None and features.mask.shape == expected[:2], f"{name}: no (B, T') mask"
    if rate == encoder.fps:
        assert torch.equal(features.mask, mask), f"{name}: the frame mask was lost"
    else:
        assert bool(features.mask.all()), f"{name}: features of real frames are masked out"
    assert torch.isfinite(features.values).all(), f"{name}: non-finite features"


def _attention(backend: AttentionBackend, name: str) -> None:
    from foleyzoo.errors import FoleyzooError
    from foleyzoo.mmdit.attention import NaiveAttention

    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, n, 8, generator=generator) for n in (5, 7, 7))
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    problem = backend.availability(torch.device("cpu"))
    if problem is None:
        expected = NaiveAttention().attend(q, k, v, key_padding_mask=mask)
        got = backend.attend(q, k, v, key_padding_mask=mask)
        assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5), f"{name}: differs from the reference"
        return
    assert isinstance(problem, str) and len(problem) > 20, f"{name}: says too little about why it cannot run"
    try:
        backend.attend(q, k, v, key_padding_mask=mask)
    except FoleyzooError:
        return
    raise AssertionError(f"{name}: runs where its availability() says it cannot")


def _codec(codec: AudioCodec, name: str) -> None:
    codec.eval()
    audio = Waveform(
        0.1 * torch.randn(2, 1, codec.sample_rate, generator=torch.Generator().manual_seed(0)),
        codec.sample_rate,
    )
    latents = codec.encode(audio)
    assert latents.values.shape[0] == 2 and latents.values.shape[2] == codec.latent_dim, (
        f"{name}: latents (B, T, C)"
    )
    assert latents.frame_rate == codec.latent_rate, (
        f"{name}: latents at {latents.frame_rate} Hz, not {codec.latent_rate}"
    )
    assert abs(latents.values.shape[1] - codec.latent_rate) <= max(2, 0.05 * codec.latent_rate), (
        f"{name}: one second gave {latents.values.shape[1]} frames"
    )
    mel = codec.decode(Latents(latents.values, latents.frame_rate))
    assert mel.values.dim() == 4 and mel.values.shape[:2] == (2, 1), f"{name}: decode gives (B, 1, n_mels, T)"
    assert torch.isfinite(mel.values).all(), f"{name}: non-finite mel"


def _vocoder(vocoder: Vocoder, name: str) -> None:
    vocoder.eval()
    frames = 20
    mel = Mel(
        torch.randn(1, 1, vocoder.n_mels, frames, generator=torch.Generator().manual_seed(0)) - 4.0,
        vocoder.sample_rate,
        62.5,
    )
    audio = vocoder.vocode(mel)
    assert audio.sample_rate == vocoder.sample_rate, f"{name}: audio at another rate"
    assert audio.samples.dim() == 3 and audio.samples.shape[:2] == (1, 1), f"{name}: audio is not (B, 1, N)"
    assert torch.isfinite(audio.samples).all(), f"{name}: non-finite audio"


def _renderer(renderer: StereoRenderer, name: str) -> None:
    renderer.eval()
    settings = getattr(renderer, "mel_config", None)  # a renderer that expects given mel settings names them
    n_mels = getattr(settings, "n_mels", getattr(renderer, "n_mels", 32))
    rate = getattr(settings, "sample_rate", 16000)
    frame_rate = getattr(settings, "frame_rate", 62.5)
    mono = Mel(
        torch.randn(1, 1, n_mels, 30, generator=torch.Generator().manual_seed(0)) - 4.0, rate, frame_rate
    )
    try:
        stereo = renderer.render(mono, None)
    except ValueError as exc:  # a renderer that needs the picture says so
        assert "visual" in str(exc) or "video" in str(exc) or "frame" in str(exc), f"{name}: {exc}"
        return
    assert stereo.values.shape == (1, 2, n_mels, 30), f"{name}: render gives {tuple(stereo.values.shape)}"


def _denoiser(denoiser: Denoiser, name: str) -> None:
    denoiser.eval()
    dim = getattr(denoiser, "latent_dim", 8)
    x = torch.randn(2, 64, dim, generator=torch.Generator().manual_seed(0))  # about 2 s of latents
    t = torch.full((2,), 0.5)
    plain = denoiser(x, t, Conditions())
    assert plain.shape == x.shape, f"{name}: velocity {tuple(plain.shape)} for latents {tuple(x.shape)}"
    prepared = denoiser.prepare(Conditions(), x)
    assert isinstance(prepared, Conditions), f"{name}: prepare() must return Conditions"
    assert torch.allclose(denoiser(x, t, prepared), plain, atol=1e-5), (
        f"{name}: prepared conditions change the output"
    )


CONTRACTS: dict[type, Callable[[Any, str], None]] = {
    Sampler: _sampler,
    TextEncoder: _text_encoder,
    VisualEncoder: _frame_encoder,
    SyncEncoder: _frame_encoder,
    AttentionBackend: _attention,
    AudioCodec: _codec,
    Vocoder: _vocoder,
    StereoRenderer: _renderer,
    Denoiser: _denoiser,
}
"""Interface → the behaviour checked on a built instance (embedders need weights: only the rules)."""
