"""`train` in several processes: `--nproc N` hands the same command to
torchrun's own launcher (torch.distributed.run), and a process that torchrun
started joins its job here. engine.training.distributed explains the run itself.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from engine.errors import ConfigError
from engine.training.distributed import (Distributed, LeaderStopped, check_distributable,
                                         launched)

NPROC = "--nproc"


def add_nproc_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(NPROC, type=int, default=None, metavar="N",
                        help="train in N processes on this machine, through torchrun and "
                             "DistributedDataParallel (one per GPU, or gloo on the CPU); "
                             "--batch-size is per process. Several machines: run torchrun "
                             "yourself (docs/DISTRIBUTED.md)")


def launch_processes(args: argparse.Namespace, model: str, argv: list[str]) -> int:
    """Run this `train` command (`argv`: the command line, from "train") in `args.nproc` processes
    through torchrun, on this machine; the exit status of the first that failed."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from engine.runtime.stop_signals import exit_code

    if launched() is not None:
        raise ConfigError(f"train {NPROC}: this process is already one of a torchrun job; "
                          f"leave {NPROC} out")
    if args.nproc < 1:
        raise ConfigError(f"train {NPROC} must be 1 or more, not {args.nproc}")
    if args.resume is None and args.restart is None:
        check_distributable(model, bool(args.compile))   # at once, before any process starts
    # A frozen build has no `python -m engine`: its processes run the executable itself.
    entry = (["--no-python", sys.executable] if getattr(sys, "frozen", False)
             else ["--module", "engine"])
    # torchrun's default, said here so it does not print a warning box about it:
    # one maths thread per process (--threads chooses more).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    options = torchrun.parse_args(["--standalone", "--nproc-per-node", str(args.nproc),
                                   *entry, *without_nproc(argv)])
    try:
        torchrun.run(options)
    except SignalException as exc:
        # Ctrl-C or SIGTERM: torchrun passed it on, and rank 0 stopped and saved
        # (within torchrun's shutdown timeout); the exit status of a stopped run.
        return exit_code(exc.sigval)
    except ChildFailedError as exc:
        # Each process has printed its own error (rank 0 the run's); torchrun's
        # report of the same, with tracebacks, would bury it.
        _, failure = exc.get_first_failure()
        code = failure.exitcode
        return code if code > 0 else 128 - code if code < 0 else 1
    return 0


def without_nproc(argv: list[str]) -> list[str]:
    """`argv` without --nproc and its value (also as --nproc=N, or a prefix
    argparse accepted, such as --np)."""
    kept, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if len(name) > 3 and NPROC.startswith(name):
            skip = "=" not in token
            continue
        kept.append(token)
    return kept


def joined_job() -> Distributed | None:
    """This process's place in the torchrun job that started it; None outside one."""
    launch = launched()
    return Distributed.start(launch) if launch is not None else None


def as_leader(distributed: Distributed, train: Callable[[], int]) -> int:
    """Rank 0: `train()`, then tell the others the run ended, or that it failed."""
    try:
        code = train()
    except BaseException as exc:
        distributed.close(exc)
        raise
    distributed.close()
    return code


def as_follower(distributed: Distributed) -> int:
    """Any other rank: train in step with rank 0, quietly (rank 0 reports)."""
    from engine.runtime.stop_signals import StopOnSignals
    from engine.training.follower import follow

    # torchrun passes a stop signal to every process; rank 0 decides when the
    # run stops (after the step, with a save), so here the first one is ignored.
    stop_signals = StopOnSignals(lambda: None).install()
    try:
        follow(distributed)
    except LeaderStopped:
        return 1
    finally:
        stop_signals.uninstall()
        distributed.close()
    return 0
