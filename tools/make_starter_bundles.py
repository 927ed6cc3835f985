#!/usr/bin/env python3
"""Make the trained models the app ships, so there is something to play with
before any training (resources/starter/*.atelier.safetensors).

    python tools/make_starter_bundles.py [--out resources/starter] [--only flow,dcgan]

Each model trains on the bundled MNIST digits for a fixed number of steps with
a fixed seed on the CPU with one thread, so the same command makes the same
weights on any machine (one thread keeps the order of every sum fixed). Each
is then scored with the shipped evaluator (FD and KID on 2,000 samples against
the MNIST test set) and written as a model bundle whose metadata carries those
scores ("evaluation"), a one-line description ("starter") and the settings it
was trained with, so the app can say what it is and how good it is. The run
folders are made in a temporary folder and removed; only the bundles are kept.

The three are small on purpose (a few MB in all): a DCGAN (fast samples, a
smooth latent walk), a convolutional VAE (reconstructions, morphs) and a
rectified flow model (the cleanest digits, a denoising process to watch).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.metrics.evaluate import EvalConfig, EvalFinished, evaluate_run  # noqa: E402
from engine.runs.bundles import BUNDLE_SUFFIX, export_bundle  # noqa: E402
from engine.runs.checkpoints import save_tensors  # noqa: E402
from engine.training import TrainConfig, train  # noqa: E402
from engine.training.events import Finished  # noqa: E402

EVAL_SAMPLES = 2_000
# Metadata keys the app reads (desktop_app.starter_models).
STARTER_KEY = "starter"
EVALUATION_KEY = "evaluation"
SCORES = ("fd_label", "fd", "kid", "class_coverage", "confident_fraction", "samples", "features")


@dataclass(frozen=True)
class Starter:
    """One shipped model: its file stem, what the app calls it, its training settings."""

    stem: str
    title: str
    settings: dict[str, Any] = field(default_factory=dict)


# Ordered as the app offers them: the first is what "Try a trained model" opens.
STARTERS = (
    Starter("digits-flow", "Digits, rectified flow",
            dict(model="flow", width=16, batch_size=64, learning_rate=1e-3, steps=1_200,
                 model_settings={"depth": 3, "blocks": 1, "guidance": 2.0})),
    Starter("digits-dcgan", "Digits, DCGAN",
            dict(model="dcgan", width=32, batch_size=64, learning_rate=2e-4, steps=3_000)),
    Starter("digits-conv-vae", "Digits, convolutional VAE",
            dict(model="conv-vae", batch_size=64, steps=3_000)),
)


def train_run(starter: Starter, settings: dict[str, Any], runs: Path) -> Path:
    config = TrainConfig(data="mnist", image_size=28, seed=0, device="cpu", threads=1,
                         precision="fp32", report_seconds=5.0, autosave_seconds=3_600.0,
                         sample_every=max(1, settings["steps"] // 4), **settings)
    out = runs / starter.stem
    for event in train(config, out):
        if isinstance(event, Finished) and event.reason != "completed":
            raise SystemExit(f"{starter.stem}: training ended early ({event.reason})")
    return out


def evaluate(run: Path, samples: int = EVAL_SAMPLES) -> dict[str, Any]:
    config = EvalConfig(samples=samples, seed=0, device="cpu", likelihood=False,
                        copy_check=False, record=True)
    for event in evaluate_run(run, config):
        if isinstance(event, EvalFinished) and event.result is not None:
            return {key: event.result[key] for key in SCORES if key in event.result}
    raise SystemExit(f"{run.name}: the evaluation stopped before it finished")


def write_bundle(starter: Starter, run: Path, scores: dict[str, Any], out_dir: Path,
                 seconds: float, settings: dict[str, Any]) -> Path:
    """The run's model as a bundle, with the description and scores in its metadata."""
    from safetensors import safe_open

    path = export_bundle(run, out_dir / f"{starter.stem}{BUNDLE_SUFFIX}")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    metadata[STARTER_KEY] = json.dumps({
        "title": starter.title, "data": "mnist", "seed": 0, "threads": 1,
        "train_seconds": round(seconds), "settings": settings,
        "command": "python tools/make_starter_bundles.py"}, sort_keys=True)
    metadata[EVALUATION_KEY] = json.dumps(scores, sort_keys=True)
    save_tensors(path, tensors, metadata)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "starter")
    parser.add_argument("--only", default="", help="comma-separated models to make (default: all)")
    parser.add_argument("--steps", type=int, default=None,
                        help="train every model this many steps instead (to check the tool; "
                             "the shipped bundles use their own)")
    parser.add_argument("--eval-samples", type=int, default=EVAL_SAMPLES)
    options = parser.parse_args(argv)
    wanted = {name for name in options.only.split(",") if name}
    chosen = [s for s in STARTERS if not wanted or s.settings["model"] in wanted]
    if not chosen:
        parser.error(f"--only names none of {', '.join(s.settings['model'] for s in STARTERS)}")
    with tempfile.TemporaryDirectory(prefix="starter-runs-") as runs:
        for starter in chosen:
            settings = {**starter.settings, **({"steps": options.steps} if options.steps else {})}
            print(f"{starter.stem}: training {settings['steps']:,} steps…", flush=True)
            started = time.monotonic()
            run = train_run(starter, settings, Path(runs))
            seconds = time.monotonic() - started
            scores = evaluate(run, options.eval_samples)
            path = write_bundle(starter, run, scores, options.out, seconds, settings)
            print(f"{starter.stem}: {seconds:.0f} s of training, {scores.get('fd_label', 'FD')} "
                  f"{scores.get('fd', float('nan')):.1f}, {path.stat().st_size / 1e6:.2f} MB "
                  f"-> {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
