"""What the trainer does when something goes wrong mid-run: a loss that turns
NaN or infinite, a device out of memory, a disk that refuses a write."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn

import torch

from engine.runs import checkpoints
from engine.errors import AtelierError, RunDirError
from engine.training.events import Notice, TrainingEvent
from engine.runs.finite_weights import first_nonfinite
from engine.runs.folders import RunDir

if TYPE_CHECKING:   # the session imports nothing from here; this is for the hints only
    from engine.training.session import TrainingSession


class TrainingError(AtelierError):
    """Training cannot go on (e.g. the loss became NaN)."""


class FaultGuard:
    """Watches one session's losses and writes. A divergence rolls the run back to
    its last good checkpoint and ends it with advice; out of memory halves the
    batch; a refused write is told once and training goes on."""

    def __init__(self, session: TrainingSession, run_dir: RunDir, last_saved_step: int) -> None:
        self.session, self.run_dir = session, run_dir
        self.last_saved_step = last_saved_step
        self._bad_step: torch.Tensor | None = None   # on a GPU: first step with a bad loss
        self._write_failing = False

    # -- non-finite losses --------------------------------------------------------------
    def watch(self, losses: dict[str, torch.Tensor], step: int) -> None:
        """Find the first step whose loss is NaN or infinite (`step`: the one
        these losses belong to).

        On the CPU the check is immediate. On a GPU reading a flag every step
        would stall the queue of work, so the step number of the first bad loss
        is kept on the device and read by `check` at the next report, grid or save.
        """
        if not losses:
            return
        finite = torch.stack([v.detach().float().reshape(()) for v in losses.values()]).isfinite().all()
        # A step the fp16 loss scaler skipped changed no weight: not a divergence.
        finite = self.session.model.precision.tolerate_skipped(finite)
        device = self.session.device
        if device.type == "cpu":
            if not bool(finite):
                self.diverged(step)
            return
        if self._bad_step is None:
            self._bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self._bad_step = torch.where(finite | (self._bad_step >= 0), self._bad_step,
                                     torch.full_like(self._bad_step, step))

    def check(self) -> None:
        """Raise if a watched step on the GPU had a bad loss."""
        if self._bad_step is not None and int(self._bad_step) >= 0:
            self.diverged(int(self._bad_step))

    def check_weights(self, step: int) -> None:
        """Never let a diverged model overwrite the last good checkpoint."""
        # Parameters only, as before: after a step the fp16 loss scaler skipped,
        # a buffer (a batch-norm statistic) can hold an infinity that is no divergence.
        if any(first_nonfinite(dict(net.named_parameters()))
               for net in self.session.model.networks().values()):
            self.diverged(step)

    def diverged(self, step: int) -> NoReturn:
        """Roll the run back to its last good checkpoint and end it with advice."""
        saved_step = self.last_saved_step
        try:
            self.run_dir.rollback_to(saved_step)
            checkpoints.mark_ended(self.run_dir.path, "diverged")
        except AtelierError:
            pass  # the message below matters more; the checkpoint itself is intact
        s = self.session
        raise TrainingError(
            f"the loss became NaN or infinite at step {step}. The run was rolled back to its "
            f"last good checkpoint (step {saved_step}); try a lower learning rate than "
            f"{s.model_config.learning_rate:g} and resume it"
            + (" (or resume it in bf16 or fp32: --precision)." if s.precision == "fp16"
               else "."))

    # -- out of memory ------------------------------------------------------------------
    def halve_batch(self, step: int) -> Notice:
        """Out of device memory: continue with half the batch, and say so."""
        s = self.session
        old = s.batcher.batch_size
        if s.processes > 1:
            # The other processes are mid-step, inside an all-reduce this one
            # never reaches: no batch can change here, and the run ends.
            raise TrainingError(f"out of memory on {s.device} at batch size {old} per process, "
                                "which cannot change in the middle of a run of several "
                                "processes; train it again with a smaller --batch-size")
        for optimizer in s.model.optimizers().values():
            optimizer.zero_grad(set_to_none=True)
        s.model.precision.abandon_step()
        if s.device.type == "cuda":
            torch.cuda.empty_cache()
        if old // 2 < 2:
            raise TrainingError(f"out of memory on {s.device} even at batch size {old}; "
                                "choose a smaller model or image size")
        new = old // 2
        s.batcher.batch_size = new
        s.config = dataclasses.replace(s.config, batch_size=new)
        saved = self.run_dir.read_config()
        history = saved.get("history", []) + [{"at_step": step, "reason": "out of memory",
                                               "changes": {"batch_size": new}}]
        self.run_dir.write_config({**saved, "train": s.config.to_dict(), "history": history})
        return Notice(step, "batch-halved",
                      f"Out of memory on {s.device} at batch size {old}: training goes on with "
                      f"batch size {new}.")

    # -- disk faults --------------------------------------------------------------------
    def while_writing(self, write: Callable[[], TrainingEvent], step: int,
                      save_refused: Callable[[], None] | None = None) -> Iterator[TrainingEvent]:
        """Run a periodic write (report, grid, autosave); if the disk refuses it
        (full, read-only, unplugged), say so once and keep training on the last
        checkpoint, which stays intact. The next interval tries again.

        `save_refused` marks the write as a save: it is called when the disk
        refuses it (so the retry waits one interval, not one step), and a save
        that works again after failures is told."""
        try:
            yield write()
        except RunDirError as exc:
            if save_refused is not None:
                save_refused()
            if not self._write_failing:
                self._write_failing = True
                yield Notice(step, "save-failed",
                             f"{exc}. Training goes on; the last checkpoint (step "
                             f"{self.last_saved_step}) is intact. Free some space to save again.")
            return
        if save_refused is not None and self._write_failing:
            self._write_failing = False
            yield Notice(step, "save-failed", f"Saving works again (step {step}).")
