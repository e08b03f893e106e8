"""Sharding foleyzoo's trainable networks with PyTorch's FSDP2 (``fully_shard``), for Lightning's
``ModelParallelStrategy``: each transformer block is one shard unit, then the network's root.

Lightning's ``FSDPStrategy`` (FSDP1) wraps models itself and needs an accelerator even to build; FSDP2
works on any device mesh, the meta device included, so a test can build the paper-scale network
sharded without memory. ``FoleyFlowMatching.configure_model`` calls :func:`shard_blocks` when the
strategy gives it a device mesh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

__all__ = ["shard_blocks", "transformer_block_types"]


def transformer_block_types() -> tuple[type[nn.Module], ...]:
    """The block classes of foleyzoo's MM-DiT: the units worth sharding (and checkpointing) one by one."""
    from foleyzoo.mmdit.blocks import JointBlock, SingleBlock

    return (JointBlock, SingleBlock)


def shard_blocks(
    network: nn.Module,
    mesh: Any,
    block_types: Iterable[type[nn.Module]] | None = None,
    **fully_shard_options: Any,
) -> nn.Module:
    """Apply ``fully_shard`` to every block of ``block_types`` in ``network``, then to ``network`` itself.

    ``mesh`` is a one-dimensional ``DeviceMesh`` over the data-parallel ranks; ``fully_shard_options``
    (``mp_policy``, ``reshard_after_forward``, ``offload_policy``) go to every call. Returns ``network``,
    whose parameters are now ``DTensor`` shards.
    """
    from torch.distributed.fsdp import fully_shard

    types = tuple(block_types) if block_types is not None else transformer_block_types()
    blocks = [module for module in network.modules() if isinstance(module, types)]
    if not blocks:
        raise ValueError(f"{type(network).__name__} has no blocks of {[t.__name__ for t in types]} to shard")
    for block in blocks:
        fully_shard(block, mesh=mesh, **fully_shard_options)
    fully_shard(network, mesh=mesh, **fully_shard_options)
    return network
