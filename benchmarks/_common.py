"""Shared pieces of the speed benchmarks: network shapes, FLOP counting, matmul peak, MFU, timers, tables.

The scripts in ``benchmarks/`` import this module as ``_common`` (they run as ``python benchmarks/x.py``);
the tests import it as ``benchmarks._common``. Nothing here asserts a speed: it measures and reports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from foleyzoo.api import Conditions, FrameFeatures, TextFeatures

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results"

# --------------------------------------------------------------------------- network shapes


@dataclass(frozen=True)
class NetworkShape:
    """An MM-DiT's width and depth and the token counts of one training sample (all modalities present)."""

    name: str
    latent_dim: int
    latent_rate: float
    frames: int
    visual_dim: int
    visual_rate: float
    visual_tokens: int
    text_dim: int
    text_tokens: int
    sync_dim: int
    sync_rate: float
    sync_frames: int
    hidden: int
    heads: int
    joint_blocks: int
    single_blocks: int
    mlp_ratio: float
    batch: int
    patch: int = 1

    @property
    def audio_tokens(self) -> int:
        """Audio tokens a sample (latent frames grouped ``patch`` at a time)."""
        return math.ceil(self.frames / self.patch)

    @property
    def tokens(self) -> int:
        """Tokens a sample the transformer processes: audio + visual + text (the joint sequence)."""
        return self.audio_tokens + self.visual_tokens + self.text_tokens

    def mmdit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`foleyzoo.mmdit.MMDiT` for this shape."""
        return {
            "latent_dim": self.latent_dim,
            "latent_rate": self.latent_rate,
            "visual_dim": self.visual_dim,
            "visual_rate": self.visual_rate,
            "text_dim": self.text_dim,
            "sync_dim": self.sync_dim,
            "hidden": self.hidden,
            "heads": self.heads,
            "joint_blocks": self.joint_blocks,
            "single_blocks": self.single_blocks,
            "mlp_ratio": self.mlp_ratio,
            "patch": self.patch,
        }

    def with_batch(self, batch: int) -> NetworkShape:
        return replace(self, batch=batch)


S16K = NetworkShape(
    name="MMAudio-S-16k",
    latent_dim=20,
    latent_rate=31.25,  # 16 kHz / hop 256 / 2: 250 frames in 8 s
    frames=250,
    visual_dim=1024,  # CLIP ViT-H/14 features at 8 fps
    visual_rate=8.0,
    visual_tokens=64,
    text_dim=1024,  # CLIP text tokens
    text_tokens=77,
    sync_dim=768,  # Synchformer features at 24 fps
    sync_rate=24.0,
    sync_frames=192,
    hidden=448,
    heads=7,
    joint_blocks=4,
    single_blocks=8,
    mlp_ratio=4.0,
    batch=8,
)
"""MMAudio-S-16k's network (hidden 448, 7 heads, 4 joint + 8 single blocks) at its 8 s training shape."""


FEATURE_RATES = {"Synchformer": 24.0}
"""Sync encoders whose features come at another rate than the frames they read (Synchformer: 25 fps in)."""


def _recipe_init_args(recipe: dict[str, Any], part: str) -> dict[str, Any]:
    return dict(recipe["model"]["init_args"][part].get("init_args") or {})


def shape_from_recipe(path: str | Path, name: str | None = None, batch: int | None = None) -> NetworkShape:
    """The denoiser's shape and one training sample's token counts read from a Kling-Foley recipe.

    Durations come from the data section (``clip_duration`` or ``crop_duration``), token counts from the
    encoders' rates (the sync features' from :data:`FEATURE_RATES` where they differ from the frames');
    the text length is the text encoder's ``max_length`` (77 where it has none).
    """
    path = Path(path)
    recipe = yaml.safe_load(path.read_text())
    net = _recipe_init_args(recipe, "denoiser")
    data = recipe["data"]["init_args"]
    seconds = float(data.get("clip_duration") or data.get("crop_duration"))
    text = _recipe_init_args(recipe, "text_encoder")
    sync_class = str(recipe["model"]["init_args"].get("sync_encoder", {}).get("class_path", "")).rpartition(
        "."
    )[2]
    sync_rate = FEATURE_RATES.get(sync_class, float(data["sync_fps"]))
    return NetworkShape(
        name=name or path.stem,
        latent_dim=int(net["latent_dim"]),
        latent_rate=float(net["latent_rate"]),
        frames=math.ceil(seconds * float(net["latent_rate"])),
        visual_dim=int(net["visual_dim"]),
        visual_rate=float(net.get("visual_rate", 8.0)),
        visual_tokens=round(seconds * float(data["visual_fps"])),
        text_dim=int(net["text_dim"]),
        text_tokens=int(text.get("max_length", 77)),
        sync_dim=int(net["sync_dim"]),
        sync_rate=sync_rate,
        sync_frames=round(seconds * sync_rate),
        hidden=int(net["hidden"]),
        heads=int(net["heads"]),
        joint_blocks=int(net["joint_blocks"]),
        single_blocks=int(net["single_blocks"]),
        mlp_ratio=float(net.get("mlp_ratio", 4.0)),
        batch=int(batch or data["batch_size"]),
        patch=int(net.get("patch", 1)),
    )


def make_inputs(
    shape: NetworkShape,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Conditions]:
    """Random latents (B, T, C), flow times (B,) and full conditions for ``shape`` (no padding anywhere)."""
    generator = torch.Generator().manual_seed(seed)
    batch = shape.batch

    def rand(*size: int) -> Tensor:
        return torch.randn(*size, generator=generator).to(device=device, dtype=dtype)

    seconds = shape.frames / shape.latent_rate
    text = TextFeatures(
        rand(batch, shape.text_tokens, shape.text_dim),
        torch.ones(batch, shape.text_tokens, dtype=torch.bool, device=device),
        rand(batch, shape.text_dim),
    )
    conditions = Conditions(
        text=text,
        visual=FrameFeatures(rand(batch, shape.visual_tokens, shape.visual_dim), shape.visual_rate),
        sync=FrameFeatures(rand(batch, shape.sync_frames, shape.sync_dim), shape.sync_rate),
        duration=torch.tensor([[0.0, seconds]] * batch, device=device, dtype=dtype),
    )
    x = rand(batch, shape.frames, shape.latent_dim)
    t = torch.rand(batch, generator=generator).to(device=device, dtype=dtype)
    return x, t, conditions


# --------------------------------------------------------------------------- FLOPs


def _cpu_flash_forward(query, key, value, *args, out_val=None, **kwargs) -> int:
    """FLOPs of PyTorch's CPU flash attention: the same two matmuls as any SDPA kernel."""
    return sdpa_flop_count(query, key, value)


def _cpu_flash_backward(grad_out, query, key, value, *args, out_val=None, **kwargs) -> int:
    """FLOPs of the CPU flash attention's backward (torch's SDPA backward formula)."""
    return sdpa_backward_flop_count(grad_out, query, key, value)


CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_forward,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_backward,
}
"""torch.utils.flop_counter knows the CUDA attention kernels but not the CPU flash kernel SDPA uses on CPU."""


def count_flops(function: Callable[[], Any]) -> tuple[int, dict[str, int]]:
    """FLOPs of the matrix products (mm, bmm, convolutions, attention) ``function()`` runs, and per operator.

    Elementwise work (norms, activations, optimizer updates) counts zero, as in every MFU figure.
    """
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
        function()
    per_op = {str(op).split(".")[-1]: int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops()), per_op


def mfu(flops: float, seconds: float, peak_flops_per_s: float) -> float:
    """Model FLOP utilisation: achieved FLOP/s (``flops`` in ``seconds``) as a share of the measured peak."""
    if seconds <= 0 or peak_flops_per_s <= 0:
        raise ValueError("seconds and the peak must be positive")
    return flops / seconds / peak_flops_per_s


# --------------------------------------------------------------------------- timing


def synchronizer(device: torch.device | str) -> Callable[[], None]:
    """A function that waits for the device's queued work (CUDA), or does nothing (CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_calls(
    function: Callable[[], Any],
    repeats: int = 3,
    warmup: int = 1,
    synchronize: Callable[[], None] = lambda: None,
) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``function()`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    synchronize()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def summary(seconds: list[float]) -> dict[str, Any]:
    """Best and median of repeated timings (best is the headline figure on a shared machine)."""
    return {"best_s": min(seconds), "median_s": statistics.median(seconds), "all_s": seconds}


def matmul_peak(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    sizes: tuple[int, ...] = (1024, 2048, 4096),
    repeats: int = 3,
) -> dict[str, Any]:
    """The best FLOP/s of square matrix products (2·n³ FLOPs each) over ``sizes``: the peak MFU divides by."""
    device = torch.device(device)
    sync = synchronizer(device)
    per_size = {}
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        best = min(time_calls(lambda a=a, b=b: torch.mm(a, b), repeats=repeats, warmup=1, synchronize=sync))
        per_size[n] = 2 * n**3 / best
    return {
        "flops_per_s": max(per_size.values()),
        "per_size": per_size,
        "dtype": str(dtype).removeprefix("torch."),
    }


class StageTimer:
    """Seconds per named stage, inclusive and exclusive: a stage run inside another leaves its parent's exclusive time.

    So the sampler's exclusive time, with the network's forward passes timed as a stage inside it, is the
    sampler loop's overhead. ``clock`` and ``synchronize`` are injectable (tests use a fake clock; CUDA
    runs pass :func:`synchronizer` so that queued work is counted where it was issued).
    """

    def __init__(
        self, clock: Callable[[], float] = time.perf_counter, synchronize: Callable[[], None] = lambda: None
    ) -> None:
        self.clock, self.synchronize = clock, synchronize
        self.inclusive: dict[str, float] = defaultdict(float)
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._open: list[list[float]] = []  # [children seconds] of each stage running now

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body as stage ``name``."""
        self.synchronize()
        start = self.clock()
        frame = [0.0]
        self._open.append(frame)
        try:
            yield
        finally:
            self.synchronize()
            elapsed = self.clock() - start
            self._open.pop()
            self.inclusive[name] += elapsed
            self.exclusive[name] += elapsed - frame[0]
            self.calls[name] += 1
            if self._open:
                self._open[-1][0] += elapsed

    def wrap(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        """``function`` timed as stage ``name`` at every call."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return function(*args, **kwargs)

        return timed

    @contextmanager
    def patched(self, owner: Any, attribute: str, name: str) -> Iterator[None]:
        """Time ``owner.attribute`` as stage ``name`` while the block runs; ``owner`` is an object or a class.

        On a class the plain function is replaced (every instance's calls are timed); not for static or
        class methods.
        """
        own = vars(owner)
        had_own, saved = attribute in own, own.get(attribute)
        setattr(owner, attribute, self.wrap(getattr(owner, attribute), name))
        try:
            yield
        finally:
            if had_own:
                setattr(owner, attribute, saved)
            else:
                delattr(owner, attribute)  # the instance's own attribute goes; the class's shows again

    def reset(self) -> None:
        self.inclusive.clear()
        self.exclusive.clear()
        self.calls.clear()


def sampler_overhead(
    timer: StageTimer, sampler: str = "sampler", network: str = "network"
) -> dict[str, float]:
    """The sampler loop's time outside the network: the sampler stage's exclusive seconds, and its share.

    The network's forward passes must have been timed as stage ``network`` inside stage ``sampler``.
    """
    total = timer.inclusive[sampler]
    outside = timer.exclusive[sampler]
    return {
        "sampler_s": total,
        "network_s": total - outside,
        "overhead_s": outside,
        "overhead_fraction": outside / total if total > 0 else 0.0,
        "network_calls": timer.calls[network],
    }


# --------------------------------------------------------------------------- memory


def reset_peak_rss() -> bool:
    """Reset the process's peak resident set size (Linux: write 5 to /proc/self/clear_refs); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since start or the last :func:`reset_peak_rss`."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    """What ran the benchmark: processor, cores, threads, Python and torch versions, accelerator."""
    info: dict[str, Any] = {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_1_5_15_min": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def markdown_table(headers: list[str], rows: list[list[Any]], right: set[int] | None = None) -> str:
    """A markdown table; columns in ``right`` (default: all but the first) are right-aligned."""
    right = set(range(1, len(headers))) if right is None else right
    rule = ["---:" if index in right else "---" for index in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | Path, result: dict[str, Any]) -> Path:
    """Write ``result`` as indented JSON (dataclasses and paths made plain); returns the path."""

    def plain(value: Any) -> Any:
        if hasattr(value, "__dataclass_fields__"):
            return asdict(value)
        if isinstance(value, (Path, torch.dtype, torch.device)):
            return str(value)
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=plain) + "\n")
    return path


# --------------------------------------------------------------------------- SynthFoley sets of a bundle


def synthfoley_set_parser(description: str | None) -> argparse.ArgumentParser:
    """The options of the scripts that score a bundle on SynthFoley sets: ``--bundle`` and ``--sets``."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bundle", default="runs/quickstart/pipeline", help="a bundle folder or a model name"
    )
    parser.add_argument(
        "--sets", nargs="+", default=["2024:32", "7000:32:varied"], help="seed:clips[:varied]"
    )
    return parser


def parse_set(spec: str) -> tuple[int, int, bool]:
    """``seed:clips[:varied]`` → (seed, clips, varied)."""
    seed, clips, *flag = spec.split(":")
    return int(seed), int(clips), flag == ["varied"]
