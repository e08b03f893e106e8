"""BigVGAN generator (Lee et al., 2023, "BigVGAN: A Universal Neural Vocoder with Large-Scale Training").

Log-mel (B, n_mels, T) → a kernel-7 convolution to ``upsample_initial_channel`` channels → for each
upsampling rate u (kernel k): a transposed convolution (stride u, padding (k − u) / 2) halving the
channels, then the mean of ``len(resblock_kernel_sizes)`` AMP blocks → an anti-aliased Snake/SnakeBeta
→ a kernel-7 convolution to one channel (bias optional) → tanh, or a clamp to [−1, 1]
(``use_tanh_at_final=False``, BigVGAN v2). An AMP block (:class:`AMPBlock1`) is, for each dilation d:
x + conv(act(conv_d(act(x)))) with anti-aliased activations (:mod:`foleyzoo.vocoders.alias_free`);
:class:`AMPBlock2` has one convolution a dilation. Unlike HiFi-GAN, nothing precedes the upsampling.

The module tree and parameter names follow the official implementation (``conv_pre``, ``ups.N.0``,
``resblocks.N.convs1.M``, ``resblocks.N.activations.M.act.alpha``, ``activation_post``, ``conv_post``),
so a ``generator`` checkpoint of NVIDIA/BigVGAN loads once its weight-norm pairs are folded (and the
stored resampling filters, recomputed here, are dropped). Inference only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from foleyzoo.api import Mel, Vocoder, Waveform
from foleyzoo.codecs.mel import MelConfig
from foleyzoo.errors import ConfigError
from foleyzoo.vocoders.alias_free import AntiAliasedActivation, Snake, SnakeBeta
from foleyzoo.vocoders.base import MelVocoderMixin
from foleyzoo.vocoders.weights import check_fits, fold_weight_norm, read_state_dict

__all__ = [
    "STORED_FILTER_SUFFIXES",
    "AMPBlock1",
    "AMPBlock2",
    "BigVGANArchitecture",
    "BigVGANGenerator",
    "BigVGANVocoder",
    "config_arguments",
    "drop_stored_filters",
    "read_config",
]

STORED_FILTER_SUFFIXES = (".upsample.filter", ".downsample.lowpass.filter")
"""Resampling filters the official implementation keeps as buffers; foleyzoo computes them."""


def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


@dataclass(frozen=True)
class BigVGANArchitecture:
    """A BigVGAN generator's shape, with the names of the official ``config.json``."""

    num_mels: int = 128
    upsample_rates: tuple[int, ...] = (8, 4, 2, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 8, 4, 4, 4, 4)
    upsample_initial_channel: int = 1536
    resblock: str = "1"
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = field(default=((1, 3, 5), (1, 3, 5), (1, 3, 5)))
    activation: str = "snakebeta"
    snake_logscale: bool = True
    use_tanh_at_final: bool = False
    use_bias_at_final: bool = False

    def __post_init__(self) -> None:
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if self.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {self.resblock!r}")
        if self.activation not in ("snake", "snakebeta"):
            raise ValueError(f"activation must be 'snake' or 'snakebeta', got {self.activation!r}")
        if self.upsample_initial_channel < 2 ** len(self.upsample_rates):
            raise ValueError(
                f"upsample_initial_channel {self.upsample_initial_channel} leaves no channel after "
                f"{len(self.upsample_rates)} halvings"
            )

    @property
    def hop_length(self) -> int:
        """Samples a mel frame: the product of the upsampling rates."""
        return math.prod(self.upsample_rates)


def _activation(kind: str, channels: int, logscale: bool) -> nn.Module:
    act = SnakeBeta(channels, logscale) if kind == "snakebeta" else Snake(channels, logscale)
    return AntiAliasedActivation(act)


class AMPBlock1(nn.Module):
    """For each dilation d: x + conv(act(conv_d(act(x)))); (B, C, N) → (B, C, N)."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], activation: str, logscale: bool):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, padding=_padding(kernel)) for _ in dilations
        )
        self.activations = nn.ModuleList(
            _activation(activation, channels, logscale) for _ in range(2 * len(dilations))
        )

    def forward(self, x: Tensor) -> Tensor:
        acts = self.activations
        for index, (c1, c2) in enumerate(zip(self.convs1, self.convs2, strict=True)):
            x = x + c2(acts[2 * index + 1](c1(acts[2 * index](x))))
        return x


class AMPBlock2(nn.Module):
    """For each dilation d: x + conv_d(act(x)); (B, C, N) → (B, C, N)."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], activation: str, logscale: bool):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=_padding(kernel, d)) for d in dilations
        )
        self.activations = nn.ModuleList(_activation(activation, channels, logscale) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for conv, act in zip(self.convs, self.activations, strict=True):
            x = x + conv(act(x))
        return x


class BigVGANGenerator(nn.Module):
    """Log-mel (B, num_mels, T) → waveform (B, T · hop) in [−1, 1]; weights without weight norm."""

    def __init__(self, arch: BigVGANArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.num_kernels = len(arch.resblock_kernel_sizes)
        channels = arch.upsample_initial_channel
        self.conv_pre = nn.Conv1d(arch.num_mels, channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = AMPBlock1 if arch.resblock == "1" else AMPBlock2
        for rate, kernel in zip(arch.upsample_rates, arch.upsample_kernel_sizes, strict=True):
            up = nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2)
            self.ups.append(nn.ModuleList([up]))
            channels //= 2
            for k, dilations in zip(arch.resblock_kernel_sizes, arch.resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(channels, k, dilations, arch.activation, arch.snake_logscale))
        self.activation_post = _activation(arch.activation, channels, arch.snake_logscale)
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=arch.use_bias_at_final)

    def forward(self, log_mel: Tensor) -> Tensor:
        x = self.conv_pre(log_mel)
        for index, up in enumerate(self.ups):
            x = up[0](x)
            blocks = self.resblocks[index * self.num_kernels : (index + 1) * self.num_kernels]
            total = blocks[0](x)
            for other in blocks[1:]:
                total = total + other(x)
            x = total / self.num_kernels
        x = self.conv_post(self.activation_post(x))
        x = torch.tanh(x) if self.arch.use_tanh_at_final else x.clamp(-1.0, 1.0)
        return x[:, 0]


def drop_stored_filters(state: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(parameters, stored resampling filters) of an official state dict."""
    params, filters = {}, {}
    for key, value in state.items():
        (filters if key.endswith(STORED_FILTER_SUFFIXES) else params)[key] = value
    return params, filters


class BigVGANVocoder(MelVocoderMixin, Vocoder):
    """Log-mel (B, C, n_mels, T) → waveform (B, C, T · hop) with a BigVGAN generator.

    Unlike foleyzoo's other vocoders it returns every sample the generator makes, T · hop (as BigVGAN and
    MMAudio do), so that a clip of N = T · hop samples comes back whole. Defaults: NVIDIA's
    ``bigvgan_v2_44khz_128band_512x`` (44.1 kHz, 128 mels, hop 512, natural-log mels of the
    HiFi-GAN-style front-end); :meth:`from_config` reads an official ``config.json``. ``checkpoint`` names
    a local ``generator`` file in the official layout (weight-norm pairs are folded).
    """

    api_version = "1.0"

    def __init__(
        self,
        sample_rate: int = 44100,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
        f_min: float = 0.0,
        f_max: float | None = None,
        log10: bool = False,
        upsample_rates: Sequence[int] = (8, 4, 2, 2, 2, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 8, 4, 4, 4, 4),
        upsample_initial_channel: int = 1536,
        resblock: str = "1",
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        activation: str = "snakebeta",
        snake_logscale: bool = True,
        use_tanh_at_final: bool = False,
        use_bias_at_final: bool = False,
        checkpoint: str | None = None,
    ) -> None:
        super().__init__()
        self.mel_settings = MelConfig(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            log10=log10,
            center=False,
            magnitude_eps=1e-9,
            clamp_input=True,
        )
        self.architecture = BigVGANArchitecture(
            num_mels=n_mels,
            upsample_rates=tuple(int(u) for u in upsample_rates),
            upsample_kernel_sizes=tuple(int(k) for k in upsample_kernel_sizes),
            upsample_initial_channel=upsample_initial_channel,
            resblock=str(resblock),
            resblock_kernel_sizes=tuple(int(k) for k in resblock_kernel_sizes),
            resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in resblock_dilation_sizes),
            activation=activation,
            snake_logscale=snake_logscale,
            use_tanh_at_final=use_tanh_at_final,
            use_bias_at_final=use_bias_at_final,
        )
        if self.architecture.hop_length != hop_length:
            raise ValueError(
                f"upsample_rates {tuple(upsample_rates)} multiply to {self.architecture.hop_length}, "
                f"not hop_length {hop_length}"
            )
        self.generator = BigVGANGenerator(self.architecture)
        if checkpoint is not None:
            self.load_pretrained(checkpoint)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | Path, **overrides: Any) -> BigVGANVocoder:
        """A vocoder of an official BigVGAN ``config.json`` (a path or its parsed content).

        Mel settings come from ``sampling_rate``, ``n_fft``, ``hop_size``, ``num_mels``, ``fmin``, ``fmax``
        (``win_size`` must equal ``n_fft``); the architecture from the generator's keys; the training keys
        are ignored. ``overrides`` are keyword arguments of the constructor (``log10``, ``checkpoint`` …).
        """
        source = str(config) if not isinstance(config, Mapping) else "BigVGAN config"
        values = read_config(config) if not isinstance(config, Mapping) else dict(config)
        return cls(**{**config_arguments(values, source), **overrides})

    def load_pretrained(self, path: str | Path) -> None:
        """Load a ``generator`` file in the official layout (weight-norm pairs folded, stored filters dropped)."""
        stored = read_state_dict(path, nested_keys=("generator", "state_dict"))
        params, _ = drop_stored_filters(fold_weight_norm(stored))
        params = {f"generator.{key}": value for key, value in params.items()}
        check_fits(path, self.state_dict(), params, "BigVGAN generator")
        self.load_state_dict(params)

    def forward(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, T · hop) samples in [−1, 1]."""
        return self.generator(log_mel)

    @torch.no_grad()
    def synthesize(self, log_mel: Tensor) -> Tensor:
        """(B, n_mels, T) log-mel → (B, T · hop) samples: every sample, the last hop included."""
        return self(log_mel)

    def output_samples(self, frames: int) -> int:
        """Samples that ``frames`` mel frames vocode to: T · hop, the last hop included."""
        return frames * self.hop_length

    def vocode(self, mel: Mel) -> Waveform:
        """Mel (B, C, n_mels, T) → waveform (B, C, T · hop); channels are vocoded independently."""
        return super().vocode(mel)

    def describe(self) -> dict[str, Any]:
        """The architecture as the official ``config.json`` names it."""
        return asdict(self.architecture)


CONFIG_ARCHITECTURE_KEYS = (
    "upsample_rates",
    "upsample_kernel_sizes",
    "upsample_initial_channel",
    "resblock",
    "resblock_kernel_sizes",
    "resblock_dilation_sizes",
    "activation",
    "snake_logscale",
)
"""Keys of an official config.json that shape the generator (all required)."""


def read_config(path: str | Path) -> dict[str, Any]:
    """The parsed content of an official ``config.json``; a clear error naming the file otherwise."""
    path = Path(path).expanduser()
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a readable BigVGAN config.json ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a BigVGAN config.json holds an object, not {type(values).__name__}")
    return values


def config_arguments(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Constructor arguments of :class:`BigVGANVocoder` from an official config's values; a clear error otherwise."""
    needed = (*CONFIG_ARCHITECTURE_KEYS, "num_mels", "sampling_rate", "n_fft", "hop_size", "win_size")
    missing = [key for key in needed if key not in values]
    if missing:
        raise ConfigError(f"{source}: not a BigVGAN config: no {', '.join(repr(k) for k in missing)}")
    if values["win_size"] != values["n_fft"]:
        raise ConfigError(f"{source}: win_size {values['win_size']} differs from n_fft {values['n_fft']}")
    arguments: dict[str, Any] = {key: values[key] for key in CONFIG_ARCHITECTURE_KEYS}
    arguments.update(
        sample_rate=int(values["sampling_rate"]),
        n_fft=int(values["n_fft"]),
        hop_length=int(values["hop_size"]),
        n_mels=int(values["num_mels"]),
        f_min=float(values.get("fmin") or 0.0),
        f_max=None if values.get("fmax") is None else float(values["fmax"]),
        use_tanh_at_final=bool(values.get("use_tanh_at_final", True)),
        use_bias_at_final=bool(values.get("use_bias_at_final", True)),
    )
    try:
        BigVGANArchitecture(
            num_mels=arguments["n_mels"],
            **{key: _tupled(arguments[key]) for key in CONFIG_ARCHITECTURE_KEYS},
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: not a usable BigVGAN config: {exc}") from exc
    product = math.prod(int(rate) for rate in arguments["upsample_rates"])
    if product != arguments["hop_length"]:
        raise ConfigError(
            f"{source}: upsample_rates {list(arguments['upsample_rates'])} multiply to {product}, "
            f"not hop_size {arguments['hop_length']}"
        )
    return arguments


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(item) for item in value)
    return value
