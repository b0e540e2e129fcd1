"""``fit`` and ``evaluate`` across the ranks of a ``torch.distributed`` process group.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) or inside a process
group a user set up, ``fit`` trains one model over all ranks:

- the process group is set up if needed: NCCL when the network is on CUDA
  (each rank on ``cuda:LOCAL_RANK``), gloo on CPU; collectives time out after
  :data:`TIMEOUT_SECONDS` (``SEQKIT_DIST_TIMEOUT`` in the environment), so a
  rank that dies makes the others stop with an error instead of hanging;
- every rank starts from rank 0's parameters, and the forward runs through
  ``DistributedDataParallel``, which averages gradients;
- the loss is normalised globally: ``per_sequence`` divides the summed loss by
  the number of sequences on all ranks, ``per_step`` by their real steps, so
  w ranks with batch b train exactly like one process with batch w*b;
- every rank runs the same number of steps: each iteration the ranks agree
  (one small ``all_reduce``) whether any still has a batch and whether any
  listener asked to stop; a rank out of data runs the step on a *filler*
  (its last batch with every loss weight zero: it counts nowhere);
- array data is split round-robin by rank; a ``readers.SequenceBatches``
  is read as its ``shard=`` says (``shard="auto"`` reads RANK and WORLD_SIZE).

Only rank 0 prints, shows progress and writes files (checkpoints, the
non-finite checkpoint); every rank runs the listeners' decisions on the same,
global numbers.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist

__all__ = ["TIMEOUT_SECONDS", "Distributed", "distributed_world", "is_main_process", "start_distributed"]

#: Seconds a collective waits for the other ranks before failing (``SEQKIT_DIST_TIMEOUT``).
TIMEOUT_SECONDS = 300


def _environment_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"the environment variable {name} must be an integer (torchrun sets it), got "
                         f"{name}={text!r}") from None


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)``: of the initialised process group, else from the environment, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return _environment_int("RANK", 0), _environment_int("WORLD_SIZE", 1)


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the rank that prints and writes."""
    return distributed_world()[0] == 0


class Distributed:
    """The process group as one ``fit`` or ``evaluate`` uses it.

    Attributes:
        rank, world_size: this process's rank and the number of ranks.
        device: the network's device on this rank.
    """

    def __init__(self, rank: int, world_size: int, device: torch.device):
        self.rank, self.world_size, self.device = rank, world_size, device
        backend = dist.get_backend()
        # Collectives on a device the backend serves: CUDA tensors for NCCL, CPU for gloo.
        self.comm = device if backend == "nccl" else torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, net):
        """``DistributedDataParallel(net)``: broadcasts rank 0's parameters and averages gradients."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over the ranks (a new tensor on ``value``'s device)."""
        out = value.detach().to(self.comm, torch.float64).clone()
        dist.all_reduce(out)
        return out.to(value.device)

    def agree(self, has_batch: bool, stop: bool, steps: int) -> tuple[bool, bool, int]:
        """``(any rank has a batch, any rank asked to stop, the longest batch's T)``, the same on
        every rank (one ``all_reduce``); truncated BPTT pads every rank's batch to that T, so
        all ranks cut the same segments."""
        flags = torch.tensor([float(has_batch), float(stop), float(steps)], device=self.comm)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        more, halt, longest = flags.tolist()
        return more > 0, halt > 0, int(longest)

    def shard_of(self, n: int):
        """This rank's round-robin share of ``n`` examples: indices ``rank, rank + w, ...``."""
        return range(self.rank, n, self.world_size)


def start_distributed(net) -> Distributed | None:
    """The process group for ``net``, set up if ``WORLD_SIZE`` > 1 says so; None for one process.

    On CUDA each rank moves ``net`` to ``cuda:LOCAL_RANK``.

    Raises:
        ValueError: RANK, WORLD_SIZE or LOCAL_RANK that are not integers.
        RuntimeError: the process group cannot be set up (torch's message).
    """
    if dist.is_available() and dist.is_initialized():
        world = dist.get_world_size()
    else:
        world = _environment_int("WORLD_SIZE", 1)
        if world <= 1:
            return None
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        cuda = net.device.type == "cuda"
        if cuda:
            torch.cuda.set_device(_environment_int("LOCAL_RANK", 0))
        timeout = datetime.timedelta(seconds=_environment_int("SEQKIT_DIST_TIMEOUT", TIMEOUT_SECONDS))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
    if world <= 1:
        return None
    if net.device.type == "cuda":
        device = torch.device("cuda", _environment_int("LOCAL_RANK", torch.cuda.current_device()))
        if net.device != device:
            net.to(device)
    else:
        device = net.device
    return Distributed(dist.get_rank(), world, device)
