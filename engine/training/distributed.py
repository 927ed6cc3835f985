"""Training in several processes: torchrun starts them, DistributedDataParallel
keeps their weights in step. docs/DISTRIBUTED.md has the commands.

- torchrun (torch.distributed.run) starts N copies of `python -m engine train
  ...` and tells each its place in the environment; `launched()` reads it and
  `Distributed.start` joins the job. The default process group is gloo with a
  long timeout: the control channel (below). Gradients travel in a second
  group, NCCL between CUDA GPUs (one per process, by local rank) and gloo on
  the CPU and on Windows, which has no NCCL; it keeps torch's own timeout, so
  a real hang inside an all-reduce is still caught.
- Rank 0 leads: it alone reads and writes the run folder (config, checkpoints,
  sample grids, metrics, the run lock). It sends the others the run's settings
  and its whole state (weights, optimisers, data order) once at the start, so
  another machine needs the data but no copy of the run folder.
- Each trained network is wrapped in DistributedDataParallel
  (GenerativeModel.distribute), which averages the gradients over the
  processes during the backward pass; every process then takes the same
  optimiser step, so weights, optimiser state and the weight averages (EMA,
  updated on every process from the same weights) stay identical everywhere,
  and rank 0's checkpoint is the state of all of them.
- Before each step rank 0 tells the others on the control channel what comes
  next: a step (with the learning-rate schedule's position, which a time
  budget makes a matter of rank 0's clock) or the end. While rank 0 alone
  writes a grid, saves or evaluates, the others wait there, in a broadcast
  whose timeout (WAIT_FOR_LEADER) outlasts any evaluation, never inside a
  gradient all-reduce.
- Random numbers that differ per process (latent noise, augmentation) come
  from generators seeded anew each step from (seed, rank, step)
  (`stream_seed`), so no process keeps random state that rank 0's checkpoint
  lacks: a resume with the same number of processes is exact.

torch.distributed is imported only here and only when a run is distributed:
the installed app leaves it out (packaging/trimming.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings
from datetime import timedelta
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import AtelierError, ConfigError
from engine.models import model_spec
from engine.models.base import DISTRIBUTED
from engine.runtime.device import resolve_device

# How long the other processes wait on the control channel for rank 0, which
# may be writing a sample grid, saving or evaluating thousands of samples.
WAIT_FOR_LEADER = timedelta(hours=12)
LEADER = 0
# The kinds of message on the control channel.
START, STEP, END, ABORT = 1, 2, 3, 4
# Streams of per-process random numbers (stream_seed).
NOISE_STREAM, AUGMENT_STREAM = 0, 1
# The tensor types a start message may carry (optimiser state, generators, weights).
_DTYPES = {str(t): t for t in (torch.float32, torch.float64, torch.float16, torch.bfloat16,
                               torch.int64, torch.int32, torch.uint8, torch.bool)}
# A process's complaint in the start-up check is cut to this many bytes.
_PROBLEM_BYTES = 1024


class LeaderStopped(AtelierError):
    """Rank 0 ended the run before or while this process followed it; rank 0
    reports why."""


@dataclasses.dataclass(frozen=True)
class Launch:
    """This process's place in a job torchrun started."""

    rank: int
    world_size: int
    local_rank: int


def launched() -> Launch | None:
    """This process's place in a torchrun job of two or more processes, from
    the environment torchrun sets; None for any other process."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank, world, local = (int(os.environ.get(name, "0")) for name in names)
    except ValueError:
        raise ConfigError("the torchrun environment is unreadable: RANK, WORLD_SIZE and "
                          "LOCAL_RANK must be whole numbers") from None
    if world <= 1:
        return None
    if not (0 <= rank < world and local >= 0):
        raise ConfigError(f"the torchrun environment is inconsistent: rank {rank} of {world}")
    return Launch(rank, world, local)


def check_distributable(model: str, compile: bool = False) -> None:
    """A clear refusal, before any process starts, for a run that cannot train
    in several processes."""
    if DISTRIBUTED not in model_spec(model).capabilities:
        raise ConfigError(f"{model} cannot train in several processes (its family does not "
                          "declare it); train it in one process")
    if compile:
        raise ConfigError("--compile cannot go with several processes: a compilation that "
                          "fails on one process would leave it a step behind the others; "
                          "train without it")


def process_device(choice: str, local_rank: int) -> torch.device:
    """The device of the process with `local_rank` on its machine: a GPU choice
    ("cuda", "cuda:N" or "auto" with a GPU present) becomes the GPU of that
    local rank, one GPU per process; else the CPU."""
    kind = (choice or "auto").strip().lower().split(":")[0]
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cpu":
        return torch.device("cpu")
    if kind != "cuda" or not torch.cuda.is_available():
        resolve_device(choice)   # an unknown name, or no GPU here: its own message
        raise ConfigError(f"training in several processes needs CUDA GPUs or the CPU, not {choice}")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(f"process {local_rank} on this machine has no GPU of its own: the "
                          f"machine has {count}; start at most {count} processes per machine "
                          "(--nproc-per-node), or train on the CPU (--device cpu)")
    return torch.device("cuda", local_rank)


def gradient_backend(device: torch.device) -> str:
    """NCCL between CUDA GPUs where torch has it (not on Windows), else gloo."""
    import torch.distributed as dist

    if device.type == "cuda" and sys.platform != "win32" and dist.is_nccl_available():
        return "nccl"
    return "gloo"


def stream_seed(seed: int, rank: int, step: int, stream: int) -> int:
    """The seed of one process's random stream for one step: independent
    streams for every (seed, rank, step, stream), each a function of these alone."""
    state = np.random.SeedSequence([seed, rank, step, stream]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


@dataclasses.dataclass
class StartState:
    """What rank 0 sends the others before the first step: the run's settings,
    the step it starts from and its whole training state."""

    config: dict[str, Any]
    step: int
    values: dict[str, Any]            # JSON: optimiser settings, counters, data order counters
    tensors: dict[str, torch.Tensor]  # weights ("net.<network>.<name>"), optimiser state, ...


class Distributed:
    """One process of a distributed run: its place, its device once known,
    the gradient group and the control channel to and from rank 0."""

    def __init__(self, launch: Launch) -> None:
        self.rank, self.world_size = launch.rank, launch.world_size
        self.local_rank = launch.local_rank
        self.device: torch.device | None = None
        self.backend: str | None = None
        self._gradients: Any = None   # the process group of the gradient all-reduces
        self._ended = False           # rank 0: the others have been told the end

    @property
    def leader(self) -> bool:
        return self.rank == LEADER

    @classmethod
    def start(cls, launch: Launch) -> "Distributed":
        """Join the job torchrun started (the control channel only; gradients
        join in `join_gradients` once the device is known). A process that
        trains several runs in turn keeps the channel it joined for the first:
        a default group made again after it was destroyed would meet the old
        one's addresses in torchrun's store."""
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo", rank=launch.rank, world_size=launch.world_size,
                                    timeout=WAIT_FOR_LEADER)
        return cls(launch)

    def device_for(self, choice: str) -> torch.device:
        self.device = process_device(choice, self.local_rank)
        return self.device

    def join_gradients(self) -> None:
        """Create the gradient group on this process's device (every process
        at once: it is a collective)."""
        import torch.distributed as dist

        assert self.device is not None, "device_for() first"
        self.backend = gradient_backend(self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self._gradients = dist.new_group(backend=self.backend)

    def wrap(self, network: nn.Module) -> nn.Module:
        """`network` in DistributedDataParallel on the gradient group. Buffers
        (batch-norm statistics, spectral norm's vectors) are sent from rank 0 at
        each forward pass (DDP's default), so every process holds rank 0's,
        which are the ones saved."""
        from torch.nn.parallel import DistributedDataParallel

        # A one-channel convolution's weight has the same memory order in either
        # layout, but its strides differ where the size is 1; DDP warns about
        # that harmless difference at every step of every channels_last model.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        cuda = self.device is not None and self.device.type == "cuda"
        ids = [self.device.index] if cuda else None
        return DistributedDataParallel(network, device_ids=ids, process_group=self._gradients)

    def mean_losses(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each loss averaged over the processes: the loss of the whole batch
        they trained on together, as one process would report it."""
        import torch.distributed as dist

        if not losses:
            return losses
        names = sorted(losses)
        stacked = torch.stack([losses[n].detach().float().reshape(()) for n in names])
        dist.all_reduce(stacked, group=self._gradients)
        means = stacked / self.world_size
        return dict(zip(names, means.unbind()))

    # -- the control channel (rank 0 -> the others) ----------------------------
    def send_start(self, state: StartState) -> None:
        names = sorted(state.tensors)
        parts = [state.tensors[n].detach().cpu().contiguous() for n in names]
        layout = [[n, str(t.dtype), list(t.shape)] for n, t in zip(names, parts)]
        header = json.dumps({"config": state.config, "step": state.step, "values": state.values,
                             "tensors": layout}).encode()
        blob = (torch.cat([t.reshape(-1).view(torch.uint8) for t in parts])
                if parts else torch.empty(0, dtype=torch.uint8))
        self._send(START, state.step, 0.0, header)
        self._broadcast_bytes(blob)

    def receive_start(self) -> StartState | None:
        """The start message; None when rank 0 ended the run before training."""
        kind, step, _, header = self._receive()
        if kind != START:
            return None
        blob = self._broadcast_bytes(None)
        message = json.loads(header.decode())
        tensors, offset = {}, 0
        for name, dtype, shape in message["tensors"]:
            if dtype not in _DTYPES:
                raise LeaderStopped(f"rank 0 sent a tensor of unknown type {dtype}")
            kind_ = _DTYPES[dtype]
            count = int(np.prod(shape)) * torch.empty(0, dtype=kind_).element_size()
            tensors[name] = blob[offset:offset + count].clone().view(kind_).reshape(shape)
            offset += count
        return StartState(message["config"], int(message["step"]), message["values"], tensors)

    def check_ready(self, problem: str | None) -> None:
        """Every process says whether it could set itself up; if any could not,
        every process raises, rank 0 with the reasons."""
        import torch.distributed as dist

        mine = torch.zeros(_PROBLEM_BYTES, dtype=torch.uint8)
        if problem is not None:
            data = (problem.encode()[:_PROBLEM_BYTES - 1] or b"?")
            mine[:len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        everyone = [torch.zeros_like(mine) for _ in range(self.world_size)]
        dist.all_gather(everyone, mine)
        failed = {rank: t.numpy().tobytes().rstrip(b"\0").decode(errors="replace")
                  for rank, t in enumerate(everyone) if bool(t.any())}
        if failed:
            self._ended = True
            text = "; ".join(f"process {rank}: {why}" for rank, why in sorted(failed.items()))
            raise (ConfigError if self.leader else LeaderStopped)(
                f"{len(failed)} of {self.world_size} processes could not start ({text})")

    def tell(self, step: int, spent: float, end: bool) -> None:
        """Rank 0, before each step: another step (at `spent` of the budget) or the end."""
        self._send(END if end else STEP, step, spent)
        self._ended = end

    def hear(self) -> tuple[int, float] | None:
        """The others, before each step: (step, budget spent), or None at the end."""
        kind, step, spent, _ = self._receive()
        if kind == STEP:
            return step, spent
        return None

    def close(self, error: BaseException | None = None) -> None:
        """End this run's part in the job. Rank 0 first tells the others, if
        they still listen, that the run ended (or failed: they then exit with
        an error, and rank 0 reports it). The gradient group goes; the control
        channel stays for another run in the same processes, and ends with them."""
        import torch.distributed as dist

        if self.leader and not self._ended:
            self._ended = True
            try:
                if error is None:
                    self._send(END, 0, 0.0)
                else:
                    self._send(ABORT, 0, 0.0, str(error).encode()[:_PROBLEM_BYTES])
            except Exception:   # noqa: BLE001 - the others are gone; nothing to tell
                pass
        if self._gradients is not None:
            dist.destroy_process_group(self._gradients)
            self._gradients = None

    def _send(self, kind: int, step: int, spent: float, payload: bytes = b"") -> None:
        import torch.distributed as dist

        head = torch.tensor([kind, step, spent, len(payload)], dtype=torch.float64)
        dist.broadcast(head, src=LEADER)
        if payload:
            self._broadcast_bytes(torch.frombuffer(bytearray(payload), dtype=torch.uint8),
                                  size=len(payload))

    def _receive(self) -> tuple[int, int, float, bytes]:
        import torch.distributed as dist

        head = torch.zeros(4, dtype=torch.float64)
        dist.broadcast(head, src=LEADER)
        kind, step, spent, size = int(head[0]), int(head[1]), float(head[2]), int(head[3])
        payload = self._broadcast_bytes(None, size).numpy().tobytes() if size else b""
        if kind == ABORT:
            raise LeaderStopped(f"rank 0 ended the run: {payload.decode(errors='replace')}")
        return kind, step, spent, payload

    def _broadcast_bytes(self, data: torch.Tensor | None, size: int | None = None
                         ) -> torch.Tensor:
        """Bytes from rank 0 to all: `data` on rank 0, None elsewhere. Without
        `size` (known to every process) the length goes first."""
        import torch.distributed as dist

        if size is None:
            length = torch.tensor([0 if data is None else data.numel()], dtype=torch.int64)
            dist.broadcast(length, src=LEADER)
            size = int(length)
        buffer = data if data is not None else torch.empty(size, dtype=torch.uint8)
        if size:
            dist.broadcast(buffer, src=LEADER)
        return buffer
