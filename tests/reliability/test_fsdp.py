"""The paper-scale MM-DiT of recipes/kling.yaml, sharded with FSDP2 as recipes/strategies/fsdp.yaml asks,
built on the meta device (no memory) in a one-process gloo group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from tests.conftest import REPO_ROOT
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule
from torch.distributed.tensor import DTensor

from foleyzoo.mmdit.blocks import JointBlock, SingleBlock
from foleyzoo.plugins.allowlist import instantiate_from_config
from foleyzoo.training.cli import parse_config
from foleyzoo.training.distributed import shard_blocks

KLING = str(REPO_ROOT / "recipes" / "kling.yaml")
FSDP = str(REPO_ROOT / "recipes" / "strategies" / "fsdp.yaml")


@pytest.fixture
def process_group(tmp_path: Path) -> Iterator[None]:
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def kling_config():
    return parse_config(["fit", "--config", KLING, "--config", FSDP]).fit


def test_the_fsdp_recipe_selects_lightnings_fsdp2_strategy() -> None:
    strategy = kling_config().trainer.strategy
    assert strategy.class_path == "lightning.pytorch.strategies.ModelParallelStrategy"
    assert strategy.init_args.data_parallel_size == 32 and strategy.init_args.tensor_parallel_size == 1
    trainer = kling_config().trainer
    assert trainer.num_nodes * trainer.devices == strategy.init_args.data_parallel_size  # the world it names


def test_the_kling_denoiser_shards_block_by_block_on_the_meta_device(process_group: None) -> None:
    denoiser_config = kling_config().model.init_args.denoiser
    config = {"class_path": denoiser_config.class_path, "init_args": dict(vars(denoiser_config.init_args))}
    with torch.device("meta"):
        denoiser = instantiate_from_config(config, torch.nn.Module, source=KLING)
    whole = sum(p.numel() for p in denoiser.parameters())
    blocks = [m for m in denoiser.modules() if isinstance(m, (JointBlock, SingleBlock))]
    shard_blocks(denoiser, init_device_mesh("cpu", (1,)))
    units = [m for m in denoiser.modules() if isinstance(m, FSDPModule)]
    assert len(units) == len(blocks) + 1 == 8 + 16 + 1  # every block, then the root
    assert all(isinstance(p, DTensor) and p.device.type == "meta" for p in denoiser.parameters())
    assert sum(p.numel() for p in denoiser.parameters()) == whole
    assert 0.9e9 < whole < 1.0e9  # the paper-scale network, built without its memory


def test_a_network_without_blocks_is_refused(process_group: None) -> None:
    with pytest.raises(ValueError, match="no blocks"):
        shard_blocks(torch.nn.Linear(2, 2), init_device_mesh("cpu", (1,)))


def test_foley_flow_matching_shards_its_denoiser_and_ema_under_a_device_mesh(process_group: None) -> None:
    from tests.training.test_flow_module import tiny_model

    model = tiny_model()
    model.configure_model()  # no mesh (any other strategy): nothing changes
    assert not any(isinstance(p, DTensor) for p in model.parameters())
    model._device_mesh = init_device_mesh("cpu", (1,), mesh_dim_names=("data_parallel",))
    model.configure_model()
    assert all(isinstance(p, DTensor) for p in model.denoiser.parameters())
    assert all(isinstance(p, DTensor) for p in model.ema.module.parameters())
    assert not any(isinstance(p, DTensor) for p in model.codec.parameters())  # frozen parts stay whole


def test_the_non_finite_guard_reads_sharded_gradients(process_group: None) -> None:
    from lightning.pytorch import LightningModule

    from foleyzoo.training.callbacks import first_non_finite_gradient

    module = LightningModule()
    module.net = torch.nn.Sequential(torch.nn.Linear(4, 4))
    shard_blocks(module.net, init_device_mesh("cpu", (1,)), block_types=(torch.nn.Linear,))
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    module.net(torch.randn(2, 4)).sum().backward()
    assert isinstance(module.net[0].weight.grad, DTensor)
    assert first_non_finite_gradient(module, optimizer) is None
    module.net[0].weight.grad.to_local().fill_(float("nan"))
    assert first_non_finite_gradient(module, optimizer) == "net.0.weight"
