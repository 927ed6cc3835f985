"""Evaluating the model being trained, between steps, on the training thread.

The trainer (engine.training) asks `EvalSchedule.due` after each step; when it
is due it runs `TrainingEvaluator.evaluate` on the live model (no reload from
disk), with a smaller sample count than a standalone evaluation so it takes
seconds, not a minute. FD at that count is labelled ("FD@2000, not comparable
with FD@10000"); KID is unbiased at any count.

The real images and the feature network are loaded once, at the first
evaluation, and the real images' features are kept in memory (and in the disk
cache shared with `latent-atelier-cli eval`).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.runtime.control import RunControl
from engine.metrics.evaluate import (EVALUATION_KIND, EvalConfig, EvalFinished, EvalProgress,
                                     _evaluate, reference_split)
from engine.metrics.features import make_extractor
from engine.models.base import GenerativeModel
from engine.runs.folders import RunDir

DEFAULT_TRAINING_EVAL_SAMPLES = 2000
# The likelihood during training: the first 1,000 test images and 10 importance
# samples (a standalone evaluation uses the whole test set and 100), recorded
# with every result as likelihood_count and importance_samples.
TRAINING_LIKELIHOOD_IMAGES = 1000
TRAINING_IMPORTANCE_SAMPLES = 10
# KID over 20 random subsets instead of 100: its mean stays unbiased (comparable
# with `eval`'s), its spread is wider; KID's cost does not shrink with fewer
# samples, so at 2,000 samples it would otherwise take most of the time.
TRAINING_KID_SUBSETS = 20
SOURCE = "training"


@dataclass
class EvalSchedule:
    """When the next evaluation is due: every `every_minutes` of training time
    (pauses excluded, measured from the end of the previous evaluation) and/or
    every `every_steps` steps. `last_elapsed` is restored on resume, so a resumed
    run keeps its rhythm instead of evaluating at once or starting over."""

    every_minutes: float | None = None
    every_steps: int | None = None
    last_elapsed: float = 0.0           # training time at the end of the last evaluation

    @property
    def enabled(self) -> bool:
        return bool(self.every_minutes) or bool(self.every_steps)

    def due(self, step: int, elapsed: float) -> bool:
        if self.every_steps and step % self.every_steps == 0:
            return True
        return bool(self.every_minutes) and elapsed - self.last_elapsed >= self.every_minutes * 60

    def done(self, elapsed: float) -> None:
        self.last_elapsed = elapsed

    def evaluations_left(self, step: int, total_steps: int | None, seconds_left: float) -> int:
        """About how many evaluations the rest of the run holds (for the ETA)."""
        count = 0
        if self.every_steps and total_steps:
            count = total_steps // self.every_steps - step // self.every_steps
        elif self.every_minutes:
            count = int(max(0.0, seconds_left) // (self.every_minutes * 60))
        return max(0, count)


class _PauseOrStop:
    """Stops the evaluation when the run is paused or stopped: a paused run must
    pause now, not after the evaluation; the evaluation is then done again after
    the pause, since it is still due."""

    def __init__(self, control: RunControl) -> None:
        self._control = control

    @property
    def stopped(self) -> bool:
        return self._control.stopped or self._control.paused


class TrainingEvaluator:
    """Scores a live model against its data set's test split (or training split)."""

    def __init__(self, run: RunDir, model_name: str, data_spec: str, samples: int,
                 seed: int = 0) -> None:
        self.run, self.model_name, self.data_spec = run, model_name, data_spec
        self.config = EvalConfig(samples=samples, seed=seed, record=False,
                                 likelihood_limit=TRAINING_LIKELIHOOD_IMAGES,
                                 importance_samples=TRAINING_IMPORTANCE_SAMPLES,
                                 kid_subsets=TRAINING_KID_SUBSETS,
                                 # the copy check searches the training set: eval's job, not a live one
                                 copy_check=False)
        self.config.validate()
        self._reference = None
        self._extractor = None

    def evaluate(self, model: GenerativeModel, step: int, control: RunControl
                 ) -> Iterator[EvalProgress | EvalFinished]:
        """EvalProgress events, then one EvalFinished: "done" with the result, or
        "stopped" (paused or stopped mid-way; nothing to record)."""
        if self._reference is None:
            self._reference = reference_split(self.data_spec, model.config.image_size)
            self._extractor = make_extractor(self.config.features, model.config.channels,
                                             model.device)
        split, reference, sequences = self._reference
        manifest = {"step": step, "checkpoint": None}
        finished = None
        for event in _evaluate(self.run, self.config, _PauseOrStop(control), self.model_name,
                               model, manifest, self.data_spec, split, reference,
                               self._extractor, sequences):
            if isinstance(event, EvalFinished):
                finished = event
            else:
                yield event
        if finished is None or finished.result is None:
            yield EvalFinished("stopped", None)
            return
        yield EvalFinished("done", {**finished.result, "source": SOURCE})


def evaluation_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The scores of a result (what a checkpoint remembers and the GUI plots)."""
    keep = ("fd", "fd_label", "kid", "kid_std", "kid_subsets", "class_coverage",
            "confident_fraction", "next_frame_mse_per_frame", "next_frame_ssim",
            "samples", "features", "seconds")
    summary = {k: result[k] for k in keep if k in result}
    summary.update({k: v for k, v in result.items() if k.endswith(("_nats", "_bits_per_dim"))})
    return {"kind": EVALUATION_KIND, "step": result.get("step"), **summary}


def format_scores(scores: dict[str, Any]) -> str:
    """One line for people: "step 400: FD@2000 = 61.2, KID = 1.42, class coverage 0.970"."""
    parts = []
    if "fd" in scores:
        parts.append(f"{scores.get('fd_label', 'FD').split(' ')[0]} = {scores['fd']:.3g}")
    if "kid" in scores:
        parts.append(f"KID = {scores['kid']:.4g}")
    if "class_coverage" in scores:
        parts.append(f"class coverage {scores['class_coverage']:.3f}")
    parts += [f"{k[:-5]} {v:.2f} nats" for k, v in sorted(scores.items()) if k.endswith("_nats")]
    if "next_frame_mse_per_frame" in scores:
        parts.append(f"next-frame MSE {scores['next_frame_mse_per_frame']:.1f}")
    if "next_frame_ssim" in scores:
        parts.append(f"SSIM {scores['next_frame_ssim']:.3f}")
    return f"step {scores.get('step', 0):,}: " + ", ".join(parts)


__all__ = ["DEFAULT_TRAINING_EVAL_SAMPLES", "EvalSchedule", "TrainingEvaluator",
           "evaluation_summary", "format_scores"]
