#!/usr/bin/env python3
"""Training throughput of mlp-vae beside the pytorch/examples-style reference VAE loop.

    python benchmarks/vae_throughput.py [--repeats 5] [--steps 100] [--threads N]
        [--reference ../shared/bench/reference_loops.py]

Identical settings on both sides: the 784-400-20 VAE, batch 128, Adam 1e-3, MNIST,
the same device and thread count. Runs alternate, each in a fresh process, so both
see the same machine state; prints a Markdown row of median images/s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "bench" / "reference_loops.py"


def run_json(command: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads for both (OMP_NUM_THREADS); default: torch's own")
    p.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    args = p.parse_args()
    env = dict(os.environ)
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = str(args.threads)
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device]
    ours, ref = [], []
    for _ in range(args.repeats):
        ours.append(run_json([sys.executable, "-m", "engine", "bench", "--model", "mlp-vae",
                              "--batch-size", "128", "--lr", "1e-3", *common, "--json"],
                             env)["images_per_second"])
        ref.append(run_json([sys.executable, args.reference, "vae", "--batch-size", "128",
                             *common], env)["images_per_second"])
        print(f"ours {ours[-1]:.1f}, reference {ref[-1]:.1f}", file=sys.stderr, flush=True)
    o, r = statistics.median(ours), statistics.median(ref)
    threads = args.threads if args.threads is not None else "default"
    print(f"| mlp-vae 784-400-20, batch 128, {args.device}, threads {threads} | {o:.1f} | "
          f"{r:.1f} | {o / r:.2f}x |")
    print(json.dumps({"ours": ours, "reference": ref}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
