#!/usr/bin/env python3
"""The weight average of the diffusion and flow families: which decay, measured.

    python benchmarks/denoiser_ema.py [--model flow] [--steps 400,1200]
        [--samples 2000] [--threads 1] [--precision fp32|bf16] [--variants NAMES]
        [--json-out results.json]

One training run of the model's MNIST CPU preset (the cosine learning rate
spread over the largest step count), with several weight averages kept side
by side from the same network: none (the trained network itself), the
warmed-up decays min(target, (1 + step) / (10 + step)) for targets 0.95, 0.99,
0.999 (the families' default) and 0.9999, and a fixed 0.999 without warm-up.
The average does not feed back into training, so every variant averages the
very same trajectory. At each step count, each variant samples the same
`--samples` seeds as `eval` (its steps and guidance) and is scored on the
shipped evaluator against the MNIST test set: FD, KID, confident fraction.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.metrics.distances import (class_statistics, frechet_distance_of,  # noqa: E402
                                      kernel_distance)
from engine.metrics.evaluate import (MAX_EVAL_SAMPLES, SAMPLE_SEED_BASE, quantize,  # noqa: E402
                                     reference_split)
from engine.metrics.features import make_extractor  # noqa: E402
from engine.models.common.ema import ema_decay  # noqa: E402
from engine.presets import KNOWN_FACTS, choose_preset  # noqa: E402
from engine.runtime.cpu_threads import cpu_threads  # noqa: E402
from engine.training import TrainConfig, TrainingSession  # noqa: E402
from engine.training.schedule import apply_schedule  # noqa: E402

# name: (target decay, warmed up); None: the trained network itself
# (The warm-up min(target, (1 + step) / (10 + step)) reaches a target d only after
# (10 d - 1) / (1 - d) steps: 170 for 0.95, 890 for 0.99, 8,990 for 0.999. Before
# that, targets above the warm-up give the same average.)
VARIANTS = {"none": None, "0.95 warm-up": (0.95, True), "0.99 warm-up": (0.99, True),
            "0.999 warm-up (default)": (0.999, True), "0.9999 warm-up": (0.9999, True),
            "0.999 fixed": (0.999, False)}


@torch.no_grad()
def _update(average: torch.nn.Module, network: torch.nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(average.parameters()), [p.detach() for p in network.parameters()],
                         1 - decay)


def _session(model: str, steps: int, threads: int, precision: str) -> TrainingSession:
    preset = choose_preset(KNOWN_FACTS["mnist"], "cpu", model=model)
    values = preset.apply({"model": model, "data": "mnist", "steps": steps, "seed": 0,
                           "device": "cpu", "threads": threads, "precision": precision})
    values.pop("minutes", None)
    return TrainingSession(TrainConfig(**values))


def _score(session: TrainingSession, weights: torch.nn.Module, samples: int, extractor,
           real_features) -> dict[str, float]:
    model = session.model
    kept = copy.deepcopy(model.ema.state_dict())
    model.ema.load_state_dict(weights.state_dict())
    try:
        seeds = list(range(SAMPLE_SEED_BASE, SAMPLE_SEED_BASE + samples))
        features, probabilities = [], []
        for start in range(0, samples, 500):
            f, p = extractor(quantize(model.sample(seeds[start:start + 500])))
            features.append(f)
            probabilities.append(p)
    finally:
        model.ema.load_state_dict(kept)
    fake = np.concatenate(features)
    kid, _ = kernel_distance(fake, real_features, subsets=100, seed=0)
    stats = class_statistics(np.concatenate(probabilities))
    return {"fd": frechet_distance_of(fake, real_features), "kid": kid,
            "confident_fraction": stats.get("confident_fraction")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="flow", choices=("flow", "ddpm"))
    parser.add_argument("--steps", default="400,1200", help="step counts to score at")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--variants", help="comma-separated names of VARIANTS to score "
                        "(default: all)")
    parser.add_argument("--json-out", help="also write the results here")
    args = parser.parse_args()
    checkpoints = sorted(int(s) for s in args.steps.split(","))
    chosen = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [name for name in chosen if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    assert MAX_EVAL_SAMPLES >= args.samples
    results: list[dict] = []
    with cpu_threads(args.threads):
        session = _session(args.model, checkpoints[-1], args.threads, args.precision)
        model = session.model
        averages = {name: copy.deepcopy(model.unet).requires_grad_(False)
                    for name in chosen if VARIANTS[name] not in (None, (0.999, True))}
        extractor = make_extractor("evaluator", 1, model.device)
        _, reference, _ = reference_split("mnist", model.config.image_size)
        real = torch.from_numpy(reference.images.copy())
        real_features = np.concatenate([extractor(real[i:i + 500].float().div(127.5).sub(1))[0]
                                        for i in range(0, len(real), 500)])
        train_seconds = 0.0
        optimizers = list(model.optimizers().values())
        for step in range(1, checkpoints[-1] + 1):
            started = time.perf_counter()
            apply_schedule(optimizers, "cosine", (step - 1) / checkpoints[-1])
            session.step()
            for name, average in averages.items():
                target, warm = VARIANTS[name]
                _update(average, model.unet, ema_decay(target, step) if warm else target)
            train_seconds += time.perf_counter() - started
            if step in checkpoints:
                for name in chosen:
                    variant = VARIANTS[name]
                    weights = (model.unet if variant is None else
                               model.ema if variant == (0.999, True) else averages[name])
                    row = {"model": args.model, "precision": args.precision, "step": step,
                           "variant": name,
                           "train_seconds": round(train_seconds, 1),
                           **_score(session, weights, args.samples, extractor, real_features)}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    print(f"\n| step | variant | FD@{args.samples} | KID | confident |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['step']} | {r['variant']} | {r['fd']:.2f} | {r['kid']:.3f} | "
              f"{r['confident_fraction']:.2f} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
