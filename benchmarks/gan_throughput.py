#!/usr/bin/env python3
"""Training throughput of our GANs beside the pytorch/examples-style reference loop.

    python benchmarks/gan_throughput.py [--repeats 5] [--steps 15] [--device cpu]
        [--reference ../shared/bench/reference_loops.py]

Runs, alternately so both see the same machine state, `latent-atelier-cli bench`
and the reference script in fresh processes, and prints a Markdown table of
median images/s. The reference has no MLP GAN, so mlp-gan is reported alone.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "bench" / "reference_loops.py"

CASES = [
    # label, our bench args, reference args (None: no reference for this model)
    ("dcgan 64x64, width 64 (pytorch/examples), batch 64",
     ["--model", "dcgan", "--image-size", "64", "--width", "64", "--batch-size", "64"],
     ["dcgan", "--batch-size", "64", "--image-size", "64"]),
    ("dcgan 28x28, width 32 (app default), batch 64",
     ["--model", "dcgan", "--image-size", "28", "--width", "32", "--batch-size", "64"], None),
    ("mlp-gan 28x28, batch 64",
     ["--model", "mlp-gan", "--batch-size", "64"], None),
]


def run_json(command: list[str]) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    p.add_argument("--json", action="store_true", help="print raw results as JSON too")
    args = p.parse_args()
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device]
    rows, raw = [], {}
    for label, ours_args, ref_args in CASES:
        ours, ref = [], []
        for _ in range(args.repeats):
            ours.append(run_json([sys.executable, "-m", "engine", "bench", *ours_args, *common,
                                  "--json"])["images_per_second"])
            if ref_args is not None:
                ref.append(run_json([sys.executable, args.reference, *ref_args, *common]
                                    )["images_per_second"])
            print(f"{label}: ours {ours[-1]:.1f}" + (f", reference {ref[-1]:.1f}" if ref else ""),
                  file=sys.stderr, flush=True)
        raw[label] = {"ours": ours, "reference": ref}
        o = statistics.median(ours)
        if ref:
            r = statistics.median(ref)
            rows.append(f"| {label} | {o:.1f} | {r:.1f} | {o / r:.2f}x |")
        else:
            rows.append(f"| {label} | {o:.1f} | (none) | |")
    print(f"Median of {args.repeats} runs, {args.steps} timed steps after {args.warmup} warm-up, "
          f"device {args.device}.\n")
    print("| case | ours (images/s) | reference (images/s) | ratio |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        print(json.dumps(raw))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
