#!/usr/bin/env python3
"""torch.compile against eager training: compile time and steady-state images/s.

    OMP_NUM_THREADS=1 python benchmarks/compile_speed.py [--repeats 3]
        [--models dcgan mlp-vae] [--steps dcgan=100 mlp-vae=300] [--warmup 3]

Each run is a fresh `latent-atelier-cli bench` process on the CPU; eager and
compiled runs alternate so both see the same machine state. Every compiled run
gets an empty inductor cache folder, so its warm-up includes a cold compile.
Compile time = compiled warm-up seconds - eager warm-up seconds (same steps).
Prints a Markdown row per model with medians, then the per-run values as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(model: str, steps: int, warmup: int, compiled: bool, env: dict[str, str]) -> dict:
    command = [sys.executable, "-m", "engine", "bench", "--model", model, "--device", "cpu",
               "--steps", str(steps), "--warmup", str(warmup), "--sample-count", "0", "--json"]
    if compiled:
        command.append("--compile")
    with tempfile.TemporaryDirectory(prefix="inductor-cache-") as cache:
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT,
                             env={**env, "TORCHINDUCTOR_CACHE_DIR": cache}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", nargs="+", default=["dcgan", "mlp-vae"])
    p.add_argument("--steps", nargs="+", default=["dcgan=100", "mlp-vae=300"],
                   help="timed steps per model, MODEL=N")
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    steps = {k: int(v) for k, v in (item.split("=") for item in args.steps)}
    env = dict(os.environ)
    runs: dict[str, dict[str, list[dict]]] = {}
    for model in args.models:
        runs[model] = {"eager": [], "compiled": []}
        for _ in range(args.repeats):
            for kind in ("eager", "compiled"):
                result = bench(model, steps.get(model, 100), args.warmup, kind == "compiled", env)
                runs[model][kind].append(result)
                print(f"{model} {kind}: {result['images_per_second']:.1f} images/s, warm-up "
                      f"{result['warmup_seconds']:.1f} s, compiled={result['compiled']}",
                      file=sys.stderr, flush=True)
    print("| model | eager images/s | compiled images/s | ratio | compile time (s) |")
    print("|---|---|---|---|---|")
    for model, kinds in runs.items():
        eager = statistics.median(r["images_per_second"] for r in kinds["eager"])
        compiled = statistics.median(r["images_per_second"] for r in kinds["compiled"])
        compile_s = statistics.median(r["warmup_seconds"] for r in kinds["compiled"]) - \
            statistics.median(r["warmup_seconds"] for r in kinds["eager"])
        print(f"| {model} | {eager:.1f} | {compiled:.1f} | {compiled / eager:.2f}x | {compile_s:.1f} |")
    print(json.dumps({m: {k: [{"images_per_second": round(r["images_per_second"], 1),
                               "warmup_seconds": round(r["warmup_seconds"], 2),
                               "compiled": r["compiled"]} for r in rs]
                          for k, rs in kinds.items()} for m, kinds in runs.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
