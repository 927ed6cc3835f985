"""Test-set scores of a run on the protocols papers report, chosen by what the
model can do rather than by its name:

    likelihood    exact test NLL in nats per image (row-lstm: test_nll_nats) or a
                  bound on it (draw, VAEs: test_nll_bound_nats), with bits/dim
    next frames   Moving MNIST protocol: 10 frames in, 10 predicted closed-loop;
                  per-frame MSE summed over the pixels of a frame in [0, 1], and SSIM

An alias of the one evaluation path in engine/metrics (likelihood.py,
next_frames.py), which `eval RUN` and `likelihood RUN` use too: the same test
pictures, binarized once from the one fixed seed, the same batches and seeds,
so the three report the same numbers for one run.

    python -m engine.cli.recurrent_eval RUN [--limit N] [--checkpoint step_...] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


from engine.data import load_data
from engine.runtime.device import resolve_device
from engine.errors import AtelierError, ConfigError
from engine.metrics.likelihood import has_likelihood, run_likelihood_scores
from engine.metrics.next_frames import can_predict_frames, next_frame_scores, ssim
from engine.runs.folders import RunDir

# eval's defaults, so the numbers match its: batches of 500 for likelihoods and
# 100 sequences for next frames, 100 importance samples where a bound has them.
BATCH_SIZE = 500
IMPORTANCE_SAMPLES = 100


def evaluate_run(run_dir: str | Path, limit: int | None = None, device: str = "auto",
                 batch_size: int = BATCH_SIZE, checkpoint: str | None = None,
                 importance_samples: int = IMPORTANCE_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Scores of the run's current weights (or of the kept checkpoint named
    `checkpoint`) on its data's test split."""
    run = RunDir(run_dir)
    spec = run.read_config()["train"]["data"]
    name, model = run.load_model(resolve_device(device), checkpoint)
    images = load_data(spec, "test", size=model.config.image_size).images
    images = images[:limit] if limit else images
    start = time.perf_counter()
    if images.ndim == 5 and can_predict_frames(model):
        result = _next_frames(model, images, min(batch_size, 100))
    elif images.ndim == 4 and has_likelihood(model):
        result = _likelihood(model, images, batch_size, importance_samples, seed)
    elif can_predict_frames(model):
        raise ConfigError(f"{spec} has no image sequences to score a {name} on")
    else:
        raise ConfigError(f"{name} has neither a likelihood nor next-frame prediction; "
                          "nothing to score here (eval scores its samples)")
    return {"model": name, "run": str(run.path), "data": spec, "checkpoint": checkpoint,
            "seconds": round(time.perf_counter() - start, 2), **result}


def _likelihood(model, images, batch_size: int, importance_samples: int,
                seed: int) -> dict[str, Any]:
    scores = run_likelihood_scores(model, images, batch_size, importance_samples, seed)
    # An exact likelihood ("nll") or the variational bound ("neg_elbo") under this
    # command's historical names.
    estimate, key = (("nll", "test_nll_nats") if "nll_nats" in scores else
                     ("neg_elbo", "test_nll_bound_nats"))
    result = {key: scores[f"{estimate}_nats"],
              "bits_per_dim": scores[f"{estimate}_bits_per_dim"], "images": len(images)}
    if "iw_nll_nats" in scores:
        result.update(test_iw_nll_nats=scores["iw_nll_nats"],
                      iw_bits_per_dim=scores["iw_nll_bits_per_dim"],
                      importance_samples=importance_samples)
    return result


def _next_frames(model, sequences, batch_size: int) -> dict[str, Any]:
    if sequences.shape[1] < 2:
        raise ConfigError("next-frame scores need image sequences of at least 2 frames")
    scores: dict[str, Any] = {}
    for _, result in next_frame_scores(model, sequences, batch_size):
        scores = result or scores
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.cli.recurrent_eval",
                                     description="Test-set scores of a run with a likelihood "
                                                 "or next-frame prediction.")
    parser.add_argument("run")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test items")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", default=None,
                        help="a kept checkpoint's folder name (checkpoints/step_...) instead of "
                             "the latest: to score how the run improved")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = evaluate_run(args.run, args.limit, args.device, checkpoint=args.checkpoint)
    except AtelierError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(json.dumps(result) if args.json else
          "\n".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["evaluate_run", "main", "ssim"]
