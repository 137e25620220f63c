"""Data-parallel training with torch.distributed: DistributedDataParallel launched by torchrun.

One process ("rank") per device. Every rank holds the whole data set, draws the same global
batch order, noise and labels as every other, and trains on its own slice of each; DDP averages
the gradients. World W × per-rank batch B therefore trains on exactly what one process with
batch W·B sees, and ends with the same weights within float noise (tested), batch norm included
when its statistics are synchronised (``--sync-bn``). Only rank 0 writes files.
"""
from __future__ import annotations

import atexit
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gankit.device import resolve_device
from gankit.errors import GankitError


@dataclass(frozen=True)
class World:
    """This process's place in the job; ``World()`` is a plain single-process run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes logs, samples and checkpoints."""
        return self.rank == 0

    def rank_slice(self, global_batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a batch drawn identically on every rank."""
        n = len(global_batch) // self.size
        return global_batch[self.rank * n:(self.rank + 1) * n]

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``tensor`` over the ranks."""
        if not self.distributed:
            return tensor
        total = tensor.clone()
        dist.all_reduce(total)
        return total / self.size

    def max(self, value: int) -> int:
        """The largest of every rank's ``value`` (how the ranks agree to stop together)."""
        if not self.distributed:
            return value
        t = torch.tensor([value], device=self.collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (e.g. the run directory named by the clock)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.collective_device())
        return box[0]

    def collective_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")

    def wrap(self, net: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
        """``net`` for the training step: itself, or wrapped in DistributedDataParallel (with
        synchronised batch norm when ``sync_bn``). The wrapper shares ``net``'s parameters."""
        if not self.distributed:
            return net
        if sync_bn:
            convert = nn.SyncBatchNorm.convert_sync_batchnorm if device.type == "cuda" else convert_cross_rank_bn
            convert(net)
        # Buffers are not broadcast from rank 0 at every forward: GAN steps run D several times per
        # backward, and the in-place broadcast would invalidate saved tensors; with --sync-bn the
        # running statistics agree anyway, without it rank 0's are the ones saved.
        ddp = nn.parallel.DistributedDataParallel
        no_forward_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                           else {"broadcast_buffers": False})  # the older name (torch < 2.14)
        return ddp(net, device_ids=[device.index] if device.type == "cuda" else None, **no_forward_sync)


def join_world(device_name: str) -> tuple[World, torch.device]:
    """The process group torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK),
    joined once per process, and this rank's device; a single process outside torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), resolve_device(device_name)
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(device_name)
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise GankitError(f"local rank {world.local_rank} has no GPU ({torch.cuda.device_count()} visible): "
                              "lower --nproc-per-node to the number of GPUs")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(dist.destroy_process_group)
    return world, device


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: every rank's loss depends
    on the sum, so each input's gradient collects every rank's share."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CrossRankBatchNorm2d(nn.BatchNorm2d):
    """Batch norm over the global batch for CPU (gloo) jobs, where torch's SyncBatchNorm refuses
    to run (it needs GPU modules). Two passes, as BatchNorm2d computes them: the global mean from
    the all-reduced sums and count, then the variance from the all-reduced squared deviations
    (E[x²] − E[x]² in one pass loses the variance of channels whose mean is large). Running
    statistics update as BatchNorm2d's do (unbiased variance); the state dict is BatchNorm2d's,
    so checkpoints load either way."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c, dims, shape = x.shape[1], (0, 2, 3), (1, x.shape[1], 1, 1)
        total = _SumOverRanks.apply(torch.cat([x.sum(dims), x.new_full((1,), x.numel() / c)]))
        count = total[-1]
        mean = total[:c] / count
        centred = x - mean.view(shape)
        var = _SumOverRanks.apply((centred * centred).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                weight = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean, weight)
                self.running_var.lerp_(var * count / (count - 1), weight)
        y = centred * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def convert_cross_rank_bn(net: nn.Module) -> nn.Module:
    """Swap every BatchNorm2d of ``net`` (in place) for a CrossRankBatchNorm2d with its state."""
    for name, child in net.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = CrossRankBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats).to(next(child.buffers()).device)
            synced.load_state_dict(child.state_dict())
            setattr(net, name, synced)
        else:
            convert_cross_rank_bn(child)
    return net
