"""The best checkpoint of a run by an evaluation metric.

Every evaluation (while training, or `latent-atelier-cli eval` / the Evaluate
dialog) is a line of the run's metrics.jsonl naming the checkpoint it scored.
The best checkpoint by a metric is the best-scoring of those lines, compared
only with lines of the same feature network and sample count as the run's
latest one (FD depends on the sample count), preferring checkpoints the run
still keeps (see `--keep-best`), since only those can be opened, resumed or
exported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.storage import safe_json
from engine.runs.checkpoints import CHECKPOINTS_DIR, read_manifest
from engine.errors import AtelierError, RunDirError
from engine.runs.folders import MAX_METRICS_BYTES, METRICS_FILE

# Scores a checkpoint can be ranked by; likelihood keys (`<estimate>_nats`,
# `<estimate>_bits_per_dim`) are ranked too, lower being better.
HIGHER_IS_BETTER = ("class_coverage", "confident_fraction", "class_entropy", "next_frame_ssim")
LOWER_IS_BETTER = ("fd", "kid", "next_frame_mse_per_frame")
RANKED_METRICS = LOWER_IS_BETTER + HIGHER_IS_BETTER
_LIKELIHOOD = re.compile(r"^[a-z][a-z0-9_]*_(nats|bits_per_dim)$")
_EVALUATION_MARK = '"kind": "evaluation"'


def is_eval_metric(name: str | None) -> bool:
    """Whether `name` is a score an evaluation reports (not a training loss)."""
    return bool(name) and (name in RANKED_METRICS or bool(_LIKELIHOOD.match(name)))


def higher_is_better(name: str) -> bool:
    return name in HIGHER_IS_BETTER


def metric_label(name: str, record: dict[str, Any] | None = None) -> str:
    """How people read the metric: "FD@2000", "KID", "class coverage", "neg_elbo_nats"."""
    if name == "fd":
        return (record or {}).get("fd_label", "FD").split(" ")[0]
    return {"kid": "KID", "class_coverage": "class coverage",
            "confident_fraction": "confident fraction",
            "class_entropy": "class entropy",
            "next_frame_mse_per_frame": "next-frame MSE",
            "next_frame_ssim": "next-frame SSIM"}.get(name, name)


@dataclass(frozen=True)
class BestCheckpoint:
    metric: str
    value: float
    label: str              # e.g. "FD@2000"
    step: int
    checkpoint: str | None  # the checkpoint folder's name
    available: bool         # the run still keeps that checkpoint
    samples: int
    features: str
    compared: int           # evaluations it was compared with (itself included)

    def describe(self) -> str:
        kept = "" if self.available else " (checkpoint not kept)"
        return f"{self.label} {self.value:.4g} at step {self.step:,}{kept}"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def recorded_evaluations(run: str | Path) -> list[dict[str, Any]]:
    """The run's evaluation lines, oldest first. Only lines marked as evaluations
    are parsed, so a long run's metrics (a line per report) are read quickly."""
    path = Path(run) / METRICS_FILE
    try:
        lines = safe_json.read_regular_bytes(path, MAX_METRICS_BYTES).splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:   # a FIFO, a folder, too large, no permission
        raise RunDirError(f"{path}: unreadable ({exc.strerror or exc})") from None
    records = []
    for line in lines:
        if _EVALUATION_MARK.encode() not in line:
            continue
        try:
            record = safe_json.loads(line)
        except ValueError:
            continue  # cut short by a crash, or damaged (not UTF-8, nested too deep)
        if isinstance(record, dict) and record.get("kind") == "evaluation" and _well_formed(record):
            records.append(record)
    return records


def _well_formed(record: dict[str, Any]) -> bool:
    """Whether an evaluation line's fields have the types ranking relies on; a
    line that was edited by hand or by an attacker is passed over, not trusted."""
    def whole(value: Any) -> bool:
        return safe_json.is_whole_number(value) and abs(value) < 2**63

    return (whole(record.get("step", 0)) and whole(record.get("samples", 0))
            and isinstance(record.get("checkpoint"), (str, type(None)))
            and isinstance(record.get("features", ""), str)
            and isinstance(record.get("fd_label", ""), str))


def metrics_recorded(records: list[dict[str, Any]]) -> list[str]:
    """The rankable metrics these evaluations hold, in a stable order."""
    found = {k for r in records for k, v in r.items()
             if is_eval_metric(k) and isinstance(v, (int, float))}
    ordered = [m for m in RANKED_METRICS if m in found]
    return ordered + sorted(found - set(ordered))


def kept_checkpoints(run: str | Path) -> set[str]:
    """Names of the checkpoint folders the run keeps (and that exist)."""
    run = Path(run)
    try:
        manifest = read_manifest(run) or {}
    except RunDirError:
        return set()
    kept = manifest.get("kept")
    names = (kept if isinstance(kept, list) else []) + ([manifest["checkpoint"]] if manifest else [])
    # Only plain folder names inside checkpoints/: a manifest is anybody's file.
    return {n for n in names if isinstance(n, str) and n not in ("", ".", "..")
            and "/" not in n and "\\" not in n and (run / CHECKPOINTS_DIR / n).is_dir()}


def best_checkpoint(run: str | Path, metric: str,
                    records: list[dict[str, Any]] | None = None) -> BestCheckpoint | None:
    """The best evaluation of `run` by `metric`, or None if none reports it."""
    if not is_eval_metric(metric):
        raise AtelierError(f"{metric!r} is not an evaluation metric; choose one of "
                           f"{', '.join(RANKED_METRICS)} or a likelihood (e.g. neg_elbo_nats)")
    records = recorded_evaluations(run) if records is None else records
    scored = [r for r in records if isinstance(r.get(metric), float)
              or (isinstance(r.get(metric), int) and abs(r[metric]) < 2**63)]   # float() fits
    scored = [r for r in scored if r[metric] == r[metric]]   # NaN never wins
    if not scored:
        return None
    latest = scored[-1]
    same = [r for r in scored if (r.get("features"), r.get("samples"))
            == (latest.get("features"), latest.get("samples"))]
    kept = kept_checkpoints(run)
    available = [r for r in same if r.get("checkpoint") in kept]
    pool = available or same
    sign = -1.0 if higher_is_better(metric) else 1.0
    # Ties go to the later evaluation (the longer-trained checkpoint).
    best = min(reversed(pool), key=lambda r: sign * float(r[metric]))
    return BestCheckpoint(metric=metric, value=float(best[metric]),
                          label=metric_label(metric, best), step=int(best.get("step", 0)),
                          checkpoint=best.get("checkpoint"), available=bool(available),
                          samples=int(best.get("samples", 0)),
                          features=str(best.get("features", "")), compared=len(same))


def require_best(run: str | Path, metric: str) -> BestCheckpoint:
    """best_checkpoint, or a clear error when there is none to act on."""
    best = best_checkpoint(run, metric)
    if best is None:
        raise RunDirError(f"{Path(run).name} has no evaluation with {metric}; evaluate it "
                          "(`eval`, or train with --eval-every-minutes)")
    if not best.available or not best.checkpoint:
        raise RunDirError(f"the best checkpoint of {Path(run).name} by {metric} (step "
                          f"{best.step:,}) is no longer kept; train with --keep-best {metric} "
                          "to keep it")
    return best


__all__ = ["BestCheckpoint", "HIGHER_IS_BETTER", "RANKED_METRICS", "best_checkpoint",
           "higher_is_better", "is_eval_metric", "kept_checkpoints", "metric_label",
           "metrics_recorded", "recorded_evaluations", "require_best"]
