"""Input checks shared by the renderers: a clear ValueError naming the expected shape for bad mels and tokens."""

from __future__ import annotations

from torch import Tensor

from foleyzoo.api import AudioCodec, FrameFeatures, Mel, StereoRenderer
from foleyzoo.codecs.mel import mel_log_of
from foleyzoo.errors import ConfigError

__all__ = ["check_mono", "check_renderer_follows", "check_tokens"]


def check_renderer_follows(renderer: StereoRenderer, codec: AudioCodec) -> None:
    """Refuse a renderer whose pan law assumes one logarithm paired with a codec whose mels use another.

    A renderer states the logarithm it pans in as ``mel_log`` (``"ln"``, or None: any); a codec in its
    ``mel_config``. Gains added to log10 mels as natural logarithms would be 2.3 times too strong.
    """
    expected, made = getattr(renderer, "mel_log", None), mel_log_of(codec)
    if expected is None or made is None or expected == made:
        return
    names = {"ln": "natural-log", "log10": "log10"}
    raise ConfigError(
        f"the stereo renderer {type(renderer).__name__} pans {names[expected]} mels, but the codec "
        f"{type(codec).__name__} makes {names.get(made, made)} mels (MMAudio's 16 kHz codec does): use DualMono "
        "(it works with any mels), or a codec with natural-log mels such as MMAudio's 44.1 kHz one"
    )


def check_mono(mono: Mel, n_mels: int | None = None) -> None:
    """Refuse anything but a mono mel (B, 1, n_mels, T) with T ≥ 1 (and ``n_mels`` bands where given)."""
    if not isinstance(mono, Mel):
        raise TypeError(f"render() takes a foleyzoo.api.Mel, got {type(mono).__name__}")
    _, channels, bands, frames = mono.values.shape
    expected = f"(B, 1, {n_mels if n_mels is not None else 'n_mels'}, T)"
    if channels != 1 or (n_mels is not None and bands != n_mels) or frames < 1:
        raise ValueError(f"the mono mel must be {expected}, got shape {tuple(mono.values.shape)}")


def check_tokens(visual: FrameFeatures, batch: int, grid: tuple[int, int], dim: int | None = None) -> Tensor:
    """The tokens (B, T, rows · cols, D) of ``visual`` laid out row-major on ``grid``, after checking their shape."""
    rows, cols = grid
    expected = f"({batch}, T, {rows * cols}, {dim if dim is not None else 'D'})"
    if visual.tokens is None:
        raise ValueError(
            f"the visual features carry no tokens; the renderer needs spatial tokens {expected} "
            f"on a {rows} × {cols} grid"
        )
    tokens = visual.tokens
    if (
        tokens.dim() != 4
        or tokens.shape[0] != batch
        or tokens.shape[2] != rows * cols
        or (dim is not None and tokens.shape[3] != dim)
        or tokens.shape[1] < 1
    ):
        raise ValueError(
            f"visual tokens must be {expected} (a {rows} × {cols} grid, row-major), got shape {tuple(tokens.shape)}"
        )
    return tokens
