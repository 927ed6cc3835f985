"""Starting the processes of a distributed run: rank 0's side (`lead`) and the
loop of every other process (`follow`). engine.training.distributed explains
the whole; this is the order of its parts.

Rank 0 builds its session (and, resuming, loads the checkpoint), sends the
others the run's settings and its whole state, and waits until every process
has built its own; only then do the gradient group and the
DistributedDataParallel wrappers come up, a collective all of them reach
together. A process that cannot start (data missing on its machine, a GPU
too small) is named in rank 0's error, and nothing is trained.
"""
from __future__ import annotations

from engine.runtime.cpu_threads import cpu_threads
from engine.training.config import TrainConfig
from engine.training.distributed import Distributed, StartState
from engine.training.schedule import apply_schedule
from engine.training.session import TrainingSession

_WEIGHTS = "net."   # the start message's prefix for networks' weights and buffers


def lead(distributed: Distributed, session: TrainingSession, step: int) -> None:
    """Rank 0: start the other processes from this session at `step`."""
    distributed.send_start(start_state(session, step))
    distributed.check_ready(None)
    session.distribute()


def follow(distributed: Distributed) -> None:
    """Any other rank: train in step with rank 0 until it ends the run.
    LeaderStopped when rank 0 failed (it reports why)."""
    state = distributed.receive_start()
    if state is None:
        return   # rank 0 ended before training (stopped while loading data)
    session, problem = None, None
    try:
        session = TrainingSession(TrainConfig(**state.config), distributed=distributed)
        load_start_state(session, state)
    except Exception as exc:  # noqa: BLE001 - rank 0 reports it, naming this process
        problem = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
    distributed.check_ready(problem)
    assert session is not None   # check_ready raised otherwise
    session.distribute()
    optimizers = list(session.model.optimizers().values())
    schedule = session.config.resolved_lr_schedule()
    with cpu_threads(session.config.threads):
        while (order := distributed.hear()) is not None:
            step, spent = order
            apply_schedule(optimizers, schedule, spent)
            session.begin_step(step)
            session.step()


def start_state(session: TrainingSession, step: int) -> StartState:
    """Everything the next step depends on: weights, optimisers, counters, data order."""
    model_tensors, values = session.model.training_state()
    data_tensors, counters = session.batcher.state()
    weights = {f"{_WEIGHTS}{name}.{key}": tensor
               for name, net in session.model.networks().items()
               for key, tensor in net.state_dict().items()}
    return StartState(session.config.to_dict(), step, {"optimizers": values, "data": counters},
                      {**model_tensors, **data_tensors, **weights})


def load_start_state(session: TrainingSession, state: StartState) -> None:
    for name, net in session.model.networks().items():
        prefix = f"{_WEIGHTS}{name}."
        net.load_state_dict({key[len(prefix):]: tensor for key, tensor in state.tensors.items()
                             if key.startswith(prefix)})
    rest = {key: tensor.to(session.device) if key.startswith("optimizer.") else tensor
            for key, tensor in state.tensors.items() if not key.startswith(_WEIGHTS)}
    session.model.load_training_state(rest, state.values["optimizers"])
    session.batcher.load_state(rest, state.values["data"])
