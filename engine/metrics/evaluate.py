"""Evaluating a run's current checkpoint: sample quality on evaluator features,
plus the test-set likelihood for families that have one.

`evaluate_run` is a generator of plain-data events (EvalProgress, then one
EvalFinished), so the CLI prints progress and the GUI worker can stop it
between batches. The result is appended to the run's metrics.jsonl as a line
with "kind": "evaluation".
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.runs.checkpoints import read_manifest
from engine.runtime.control import RunControl
from engine.data import ImageSet, load_data
from engine.runtime.device import resolve_device
from engine.errors import AtelierError, ConfigError, DataError
from engine.metrics import feature_cache
from engine.metrics.distances import class_statistics, frechet_distance_of, kernel_distance
from engine.metrics.features import FEATURE_CHOICES, FeatureExtractor, make_extractor
from engine.metrics.likelihood import has_likelihood, likelihood_scores
from engine.metrics.next_frames import can_predict_frames, last_frames, next_frame_scores
from engine.runs.folders import RunDir

DEFAULT_SAMPLES = 10_000
MAX_EVAL_SAMPLES = 100_000
# Generated images use seeds from here on, apart from the gallery's small seeds
# (it does not matter for the score, but a reader can tell them apart).
SAMPLE_SEED_BASE = 1_000_000_000
EVALUATION_KIND = "evaluation"


class EvaluationError(AtelierError):
    """A model that cannot be scored (its samples are not finite)."""


@dataclass
class EvalConfig:
    samples: int = DEFAULT_SAMPLES      # generated images for FD / KID / classes
    seed: int = 0                       # selects the sample seeds and KID subsets
    device: str = "auto"
    batch_size: int = 500
    features: str = "auto"              # "auto", "evaluator" or "random"
    likelihood: bool = True             # when the family has one
    importance_samples: int = 100       # for importance-weighted bounds
    # First N test images for the likelihood (test sequences for next-frame scores); None: all.
    likelihood_limit: int | None = None
    record: bool = True                 # append the result to the run's metrics.jsonl
    kid_subsets: int = 100              # random subsets KID averages over (its spread shrinks with more)
    copy_check: bool = True             # samples' nearest training pictures (engine.metrics.memorisation)

    def validate(self) -> None:
        if not 2 <= self.samples <= MAX_EVAL_SAMPLES:
            raise ConfigError(f"samples must be between 2 and {MAX_EVAL_SAMPLES:,}, not {self.samples}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, not {self.batch_size}")
        if self.features not in FEATURE_CHOICES:
            raise ConfigError(f"features must be one of {', '.join(FEATURE_CHOICES)}, "
                              f"not {self.features!r}")
        if self.importance_samples < 1:
            raise ConfigError(f"importance samples must be at least 1, not {self.importance_samples}")
        if self.likelihood_limit is not None and self.likelihood_limit < 1:
            raise ConfigError(f"likelihood limit must be at least 1, not {self.likelihood_limit}")
        if self.kid_subsets < 1:
            raise ConfigError(f"KID subsets must be at least 1, not {self.kid_subsets}")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"seed must be between 0 and 2**31 - 1, not {self.seed}")


@dataclass(frozen=True)
class EvalProgress:
    stage: str          # "reference", "samples", "training", "likelihood" or "next frames"
    done: int
    total: int


@dataclass(frozen=True)
class EvalFinished:
    reason: str                         # "done" or "stopped"
    result: dict[str, Any] | None       # the recorded metrics (None when stopped)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Generated images as users see them: rounded to 256 levels like the real data."""
    return images.clamp(-1, 1).add(1).mul(127.5).round().div(127.5).sub(1)


def reference_split(spec: str, size: int) -> tuple[str, ImageSet, np.ndarray | None]:
    """The data set's test split, or its training split where it has none, and
    for sequence data its sequences. `size` is the side that sources of
    arbitrary pictures decode to.

    On sequence data FD and KID compare the gallery's tiles (ends of rollouts)
    with the last frames of the real sequences, so the returned set holds those
    frames; the sequences themselves are kept for the next-frame scores."""
    try:
        split, reference = "test", load_data(spec, "test", size=size)
    except DataError:
        split, reference = "train", load_data(spec, "train", size=size)
    if reference.frames is None:
        return split, reference, None
    sequences = reference.images
    return split, dataclasses.replace(reference, images=last_frames(sequences)), sequences


def _features_of_uint8(extractor: FeatureExtractor, images: np.ndarray, batch_size: int,
                       control: RunControl, stage: str
                       ) -> Iterator[EvalProgress | tuple[np.ndarray, np.ndarray | None]]:
    feats, probs = [], []
    n = len(images)
    for start in range(0, n, batch_size):
        if control.stopped:
            return
        x = torch.from_numpy(np.array(images[start:start + batch_size])).float()  # a writable copy
        f, p = extractor(x.div(127.5).sub(1))
        feats.append(f)
        if p is not None:
            probs.append(p)
        yield EvalProgress(stage, min(start + batch_size, n), n)
    yield np.concatenate(feats), (np.concatenate(probs) if probs else None)


def evaluate_run(run_dir: str | Path, config: EvalConfig | None = None,
                 control: RunControl | None = None) -> Iterator[EvalProgress | EvalFinished]:
    """Score the run's current checkpoint. Bad settings, a run without weights or
    unreadable data fail with a clear message before the first event."""
    config = config or EvalConfig()
    config.validate()
    control = control or RunControl()
    run = RunDir(run_dir)
    saved = run.read_config()
    device = resolve_device(config.device)
    model_name, model = run.load_model(device)
    manifest = read_manifest(run.path) or {}
    spec = saved.get("data", {}).get("spec") or saved.get("train", {}).get("data", "mnist")
    split, reference, sequences = reference_split(spec, model.config.image_size)
    extractor = make_extractor(config.features, model.config.channels, device)
    return _evaluate(run, config, control, model_name, model, manifest, spec, split, reference,
                     extractor, sequences)


def _evaluate(run: RunDir, config: EvalConfig, control: RunControl, model_name: str, model,
              manifest: dict[str, Any], spec: str, split: str, reference: ImageSet,
              extractor: FeatureExtractor, sequences: np.ndarray | None = None
              ) -> Iterator[EvalProgress | EvalFinished]:
    started = time.perf_counter()
    timings: dict[str, float] = {}

    # 1. Features of the real images, cached on disk: the test set does not change.
    t0 = time.perf_counter()
    # Same batch size and device, same floating-point results: they are part of the key.
    key = feature_cache.cache_key(
        f"{extractor.fingerprint}:{config.batch_size}:{extractor.device}", reference.images)
    real_features = feature_cache.load_cached(key, len(reference))
    if real_features is not None:
        yield EvalProgress("reference", len(reference), len(reference))
    else:
        out = None
        for item in _features_of_uint8(extractor, reference.images, config.batch_size, control,
                                       "reference"):
            if isinstance(item, EvalProgress):
                yield item
            else:
                out = item
        if out is None:
            yield EvalFinished("stopped", None)
            return
        real_features = out[0]
        feature_cache.store(key, real_features)
    timings["reference_seconds"] = time.perf_counter() - t0

    # 2. Generated images -> features (and class probabilities).
    t0 = time.perf_counter()
    first = SAMPLE_SEED_BASE + config.seed * MAX_EVAL_SAMPLES
    seeds = list(range(first, first + config.samples))
    feats, probs = [], []
    for start in range(0, len(seeds), config.batch_size):
        if control.stopped:
            yield EvalFinished("stopped", None)
            return
        samples = model.sample(seeds[start:start + config.batch_size])
        if not bool(torch.isfinite(samples).all()):
            # Scored anyway, NaN features end in numpy's "LinAlgError" with no hint.
            raise EvaluationError(f"{run.path}: the model's samples are not finite (NaN or "
                                  "infinite values: its weights have diverged); nothing to score")
        images = quantize(samples)
        f, p = extractor(images)
        feats.append(f)
        if p is not None:
            probs.append(p)
        yield EvalProgress("samples", min(start + config.batch_size, len(seeds)), len(seeds))
    fake_features = np.concatenate(feats)
    timings["samples_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fd = frechet_distance_of(fake_features, real_features)
    kid, kid_std = kernel_distance(fake_features, real_features, subsets=config.kid_subsets,
                                   seed=config.seed)
    timings["distance_seconds"] = time.perf_counter() - t0
    result: dict[str, Any] = {
        "kind": EVALUATION_KIND, "step": int(manifest.get("step", 0)),
        "checkpoint": manifest.get("checkpoint"), "model": model_name,
        "features": extractor.name, "comparable": extractor.comparable,
        "data": spec, "reference_split": split, "reference_count": len(reference),
        "samples": config.samples, "seed": config.seed,
        "fd": fd, "fd_label": _fd_label(config.samples),
        "kid": kid, "kid_std": kid_std, "kid_subsets": config.kid_subsets,
    }
    if probs:
        result.update(class_statistics(np.concatenate(probs)))

    # The copy check, for image models: are samples nearer their nearest training
    # picture than new real pictures are?
    if config.copy_check and sequences is None:
        t0 = time.perf_counter()
        scores = None
        for item in _copy_check(spec, model.config.image_size, extractor, fake_features,
                                config, control):
            if isinstance(item, EvalProgress):
                yield item
            else:
                scores = item
        if scores is None:
            yield EvalFinished("stopped", None)
            return
        result.update(scores)
        timings["copy_check_seconds"] = time.perf_counter() - t0

    # 3. Likelihood, for families that define one on this data's image size.
    if config.likelihood and has_likelihood(model):
        note = _likelihood_mismatch(model, reference)
        if not note and model.uses_labels and reference.labels is None:
            note = "a conditional model is scored given each image's class; this data has no labels"
        if note:
            result["likelihood_skipped"] = note
        else:
            t0 = time.perf_counter()
            images = reference.images[:config.likelihood_limit]
            scores = None
            labels = reference.labels if model.uses_labels else None
            for done, total, scores in likelihood_scores(
                    model, images, config.batch_size, config.importance_samples, config.seed,
                    labels):
                if control.stopped:
                    yield EvalFinished("stopped", None)
                    return
                if scores is None:
                    yield EvalProgress("likelihood", done, total)
            result.update(scores or {})
            result.update(likelihood_protocol=model.likelihood_data, likelihood_split=split,
                          likelihood_count=len(images),
                          importance_samples=config.importance_samples)
            timings["likelihood_seconds"] = time.perf_counter() - t0

    # 4. Next-frame prediction, for sequence models on sequence data.
    if sequences is not None and can_predict_frames(model):
        t0 = time.perf_counter()
        scores = None
        for done, scores in next_frame_scores(model, sequences[:config.likelihood_limit],
                                              min(config.batch_size, 100)):
            if control.stopped:
                yield EvalFinished("stopped", None)
                return
            if scores is None:
                yield EvalProgress("next frames", done, len(sequences[:config.likelihood_limit]))
        result.update({f"next_frame_{k}": v for k, v in (scores or {}).items()})
        result["next_frame_split"] = split
        timings["next_frame_seconds"] = time.perf_counter() - t0

    result.update({k: round(v, 3) for k, v in timings.items()})
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["device"] = str(model.device)
    result["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if config.record:
        run.append_metrics(result)
    yield EvalFinished("done", result)


def _copy_check(spec: str, size: int, extractor: FeatureExtractor, sample_features: np.ndarray,
                config: EvalConfig, control: RunControl
                ) -> Iterator[EvalProgress | dict[str, Any]]:
    """Progress, then the copy check's scores (or why it was skipped); nothing
    more when stopped. Training features are cached like the reference's."""
    from engine.metrics.memorisation import MIN_TRAINING, memorisation, training_subset

    try:
        training = load_data(spec, "train", size=size)
    except DataError as exc:
        yield {"memorisation_skipped": f"the training pictures could not be loaded ({exc})"}
        return
    if len(training) < MIN_TRAINING:
        yield {"memorisation_skipped": f"{len(training)} training pictures are too few "
                                       f"(the check needs {MIN_TRAINING})"}
        return
    images = training.images[training_subset(len(training))]
    features = None
    for item in training_features(images, extractor, config.batch_size, control):
        if isinstance(item, EvalProgress):
            yield item
        else:
            features = item
    if features is None:
        return
    yield memorisation(sample_features, features).scores()


def training_features(images: np.ndarray, extractor: FeatureExtractor, batch_size: int,
                      control: RunControl) -> Iterator[EvalProgress | np.ndarray]:
    """Progress ("training"), then the features of uint8 training pictures (N, C, H, W);
    nothing more when stopped. Cached on disk under the network, batch size, device
    and the pictures' bytes, so the copy check and a gallery tile's nearest training
    pictures share them."""
    key = feature_cache.cache_key(f"{extractor.fingerprint}:{batch_size}:{extractor.device}",
                                  images)
    features = feature_cache.load_cached(key, len(images))
    if features is None:
        for item in _features_of_uint8(extractor, images, batch_size, control, "training"):
            if isinstance(item, EvalProgress):
                yield item
            else:
                features = item[0]
        if features is None:
            return
        feature_cache.store(key, features)
    yield features


def _fd_label(samples: int) -> str:
    if samples == DEFAULT_SAMPLES:
        return f"FD@{samples}"
    # FD's bias depends on the sample count; scores at other counts are marked.
    return f"FD@{samples} (not comparable with FD@{DEFAULT_SAMPLES})"


def _likelihood_mismatch(model, reference: ImageSet) -> str | None:
    # Another size is resized, as the trainer does; other channels cannot be scored.
    c, s = model.config.channels, model.config.image_size
    if reference.channels != c:
        return (f"the model works at {c}x{s}x{s} but the data is "
                f"{reference.channels}x{reference.size}x{reference.size}")
    return None


def evaluations(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every evaluation recorded in a run's metrics, oldest first."""
    return [r for r in RunDir(run_dir).read_metrics() if r.get("kind") == EVALUATION_KIND]


def run_evaluation(run_dir: str | Path, config: EvalConfig | None = None,
                   control: RunControl | None = None) -> dict[str, Any] | None:
    """evaluate_run to the end; the result, or None if stopped."""
    finished = None
    for event in evaluate_run(run_dir, config, control):
        if isinstance(event, EvalFinished):
            finished = event
    return finished.result if finished else None


def format_result(result: dict[str, Any]) -> str:
    """A few lines for people (the CLI and the GUI show this)."""
    lines = [f"step {result['step']:,}: {result['fd_label']} = {result['fd']:.3f}, "
             f"KID = {result['kid'] * 1000:.3f} x 1e-3 (+/- {result['kid_std'] * 1000:.3f})"]
    if "class_coverage" in result:
        lines.append(f"class coverage {result['class_coverage']:.3f} "
                     f"({result['classes_seen']} of 10 classes), "
                     f"confident {result['confident_fraction'] * 100:.1f}%")
    for key in sorted(result):
        if key.endswith("_nats"):
            name = key[:-5]
            lines.append(f"{name}: {result[key]:.2f} nats/image, "
                         f"{result[name + '_bits_per_dim']:.4f} bits/dim "
                         f"({result['likelihood_protocol']} {result['likelihood_split']} set)")
    if "next_frame_mse_per_frame" in result:
        lines.append(f"next frames: MSE {result['next_frame_mse_per_frame']:.2f} per frame "
                     f"(summed over {result['next_frame_frame_size']}x{result['next_frame_frame_size']} "
                     f"pixels), SSIM {result['next_frame_ssim']:.4f} "
                     f"({result['next_frame_frames_in']} in, {result['next_frame_frames_out']} predicted, "
                     f"{result['next_frame_sequences']:,} {result['next_frame_split']} sequences)")
    if "memorisation_ratio" in result:
        from engine.metrics.memorisation import describe
        lines.append(describe(result))
    elif "memorisation_skipped" in result:
        lines.append(f"copy check skipped: {result['memorisation_skipped']}")
    if "likelihood_skipped" in result:
        lines.append(f"likelihood skipped: {result['likelihood_skipped']}")
    lines.append(f"features: {result['features']} ({result['comparable']}); "
                 f"{result['samples']:,} samples against {result['reference_count']:,} "
                 f"{result['reference_split']} images; {result['seconds']:.1f} s")
    return "\n".join(lines)


__all__ = ["EvalConfig", "EvalFinished", "EvaluationError", "EvalProgress", "evaluate_run", "evaluations",
           "format_result", "run_evaluation", "training_features"]
