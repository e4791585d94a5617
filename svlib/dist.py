"""Data-parallel training over torch.distributed, launched by torchrun (NCCL on GPUs, gloo on CPU).

We all-reduce gradients ourselves (as StyleGAN2-ADA does) instead of wrapping modules in
DistributedDataParallel: a GAN step runs D several times per backward and R1 needs a double backward
(create_graph=True), which DDP's reducer does not support.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from .utils import default_device


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | torch.device | None = None) -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); else single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world > 1 and not torch_dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        torch_dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local, dev)


def all_reduce_grads(params, world_size: int) -> None:
    """Average gradients over ranks in one flat buffer; missing grads count as zeros."""
    params = [p for p in params if p.requires_grad]
    if world_size <= 1 or not params:
        return
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params]
    )
    torch_dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_reduce_buffers(module: torch.nn.Module, world_size: int) -> None:
    """Average floating-point buffers over ranks.

    E.g. the generator's running w_avg, which each rank tracks from its own batch.
    """
    if world_size > 1:
        for b in module.buffers():
            if b.is_floating_point():
                torch_dist.all_reduce(b.data)
                b.data /= world_size


def broadcast_module(module: torch.nn.Module, world_size: int) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if world_size > 1:
        for t in list(module.parameters()) + list(module.buffers()):
            torch_dist.broadcast(t.data, src=0)


def barrier(world_size: int) -> None:
    if world_size > 1:
        torch_dist.barrier()
