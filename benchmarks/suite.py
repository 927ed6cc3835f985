#!/usr/bin/env python3
"""Training throughput of every model beside its reference loop, in one session.

    python benchmarks/suite.py [--repeats 3] [--steps 10] [--warmup 3] [--device cpu]
        [--reference ../shared/bench/reference_loops.py] [--out FILE.md] [--update-docs]
        [--only dcgan-64 ...] [--quality-minutes 3 --quality-samples 10000]

For each case, each repetition runs `latent-atelier-cli bench` and then the
matching loop of the reference script (the conventional pytorch/examples loop:
per-item PIL decode, DataLoader, same network, same optimiser), each in a fresh
process, alternating so both see the same machine state. Prints (and with --out
writes) a Markdown table of medians and ratios; --update-docs replaces the
generated section of docs/BENCHMARKS.md. Models not registered in this build are
listed as skipped. Benchmarks measure; nothing here asserts a time.

With --quality-minutes M it also trains each registered model of QUALITY_MODELS
for M minutes of wall-clock time on MNIST (app defaults) and scores the result
with `latent-atelier-cli eval`: quality after a fixed CPU budget.

The reference path defaults to ../shared/bench/reference_loops.py relative to
the repository root; it is not part of the repository.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "bench" / "reference_loops.py"
DOCS = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- suite.py:begin -->", "<!-- suite.py:end -->"


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    models: tuple[str, ...]         # first registered name is used
    ours: tuple[str, ...]           # bench settings besides --model
    reference: tuple[str, ...] | None  # reference_loops.py arguments; None: no reference


CASES = [
    Case("dcgan-64", "dcgan 64x64, width 64 (pytorch/examples network), batch 64", ("dcgan",),
         ("--image-size", "64", "--width", "64", "--batch-size", "64"),
         ("dcgan", "--batch-size", "64", "--image-size", "64")),
    Case("vae", "MLP VAE 784-400-20 (pytorch/examples network), batch 128", ("mlp-vae", "vae"),
         ("--batch-size", "128"), ("vae", "--batch-size", "128")),
    Case("dcgan-28", "dcgan 28x28, width 32 (app default), batch 64", ("dcgan",),
         ("--image-size", "28", "--width", "32", "--batch-size", "64"), None),
    Case("mlp-gan", "mlp-gan 28x28, batch 64", ("mlp-gan",), ("--batch-size", "64"), None),
]


# Models trained for the quality-per-minute table (those not in this build are skipped).
QUALITY_MODELS = ("dcgan", "mlp-gan", "mlp-vae", "conv-vae", "row-lstm", "draw", "ddpm")


def registered_models() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from engine.models import model_names
    return model_names()


def run_json(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_text(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "(none)"


def measure(case: Case, model: str, args: argparse.Namespace) -> dict:
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device]
    ours, ref, memory = [], [], []
    for repeat in range(args.repeats):
        result = run_json([sys.executable, "-m", "engine", "bench", "--model", model,
                           *case.ours, *common, "--json"])
        ours.append(result["images_per_second"])
        memory.append(result.get("peak_memory_mb") or 0.0)
        if case.reference is not None:
            ref.append(run_json([sys.executable, args.reference, *case.reference, *common]
                                )["images_per_second"])
        print(f"[{repeat + 1}/{args.repeats}] {case.key}: ours {ours[-1]:.1f}"
              + (f", reference {ref[-1]:.1f}" if ref else ""), file=sys.stderr, flush=True)
    return {"model": model, "ours": ours, "reference": ref, "peak_memory_mb": memory}


def table(results: dict[str, dict], skipped: list[str], args: argparse.Namespace) -> str:
    lines = [f"Median of {args.repeats} runs each, {args.steps} timed steps after {args.warmup} "
             f"warm-up, device {args.device}; Python {platform.python_version()}, "
             f"generated {time.strftime('%Y-%m-%d')} by `python benchmarks/suite.py "
             f"--repeats {args.repeats} --steps {args.steps} --device {args.device}`.", "",
             "| case | model | ours (images/s) | reference (images/s) | ours / reference "
             "| ours, all runs | reference, all runs | peak memory (MB) |",
             "|---|---|---|---|---|---|---|---|"]
    for case in CASES:
        if case.key not in results:
            continue
        r = results[case.key]
        ratio = (f"**{statistics.median(r['ours']) / statistics.median(r['reference']):.2f}x**"
                 if r["reference"] else "(no reference)")
        lines.append(f"| {case.label} | `{r['model']}` | {median_text(r['ours'])} | "
                     f"{median_text(r['reference'])} | {ratio} | "
                     f"{', '.join(f'{v:.1f}' for v in r['ours'])} | "
                     f"{', '.join(f'{v:.1f}' for v in r['reference'])} | "
                     f"{statistics.median(r['peak_memory_mb']):.0f} |")
    if skipped:
        lines += ["", "Skipped (model not in this build): " + "; ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def quality(models: list[str], args: argparse.Namespace) -> str:
    """Train each model for a fixed time, then score it with `eval`."""
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            out = Path(tmp) / model
            trained = run_json([sys.executable, "-m", "engine", "train", "--model", model,
                                "--data", "mnist", "--minutes", str(args.quality_minutes),
                                "--device", args.device, "--seed", "0", "--out", str(out),
                                "--json"])
            scores = run_json([sys.executable, "-m", "engine", "eval", str(out), "--samples",
                               str(args.quality_samples), "--device", args.device, "--json"])
            likelihood = ", ".join(f"{k[:-5]} {v:.2f}" for k, v in sorted(scores.items())
                                   if k.endswith("_nats")) or "(none)"
            rows.append(f"| `{model}` | {trained['step']:,} | {scores['fd']:.3f} | "
                        f"{scores['kid'] * 1000:.2f} | {scores.get('class_coverage', float('nan')):.3f} | "
                        f"{scores.get('confident_fraction', float('nan')) * 100:.1f}% | {likelihood} | "
                        f"{scores['seconds']:.1f} |")
            print(f"quality {model}: step {trained['step']}, FD {scores['fd']:.3f}",
                  file=sys.stderr, flush=True)
    return "\n".join([
        "", f"Quality after {args.quality_minutes:g} minutes of training (wall clock, device "
        f"{args.device}, MNIST, app defaults, seed 0), scored by `latent-atelier-cli eval "
        f"--samples {args.quality_samples}` on the shipped MNIST evaluator (FD@"
        f"{args.quality_samples}):", "",
        "| model | steps | FD | KID x 1e3 | class coverage | confident | NLL (nats/image) "
        "| eval seconds |", "|---|---|---|---|---|---|---|---|", *rows]) + "\n"


def update_docs(text: str) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n## Benchmark suite (generated)\n\n" + block + "\n"
    DOCS.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    p.add_argument("--only", nargs="*", default=None, help=f"cases: {', '.join(c.key for c in CASES)}")
    p.add_argument("--out", default=None, help="also write the Markdown table here")
    p.add_argument("--update-docs", action="store_true", help="rewrite the generated section "
                   "of docs/BENCHMARKS.md")
    p.add_argument("--quality-minutes", type=float, default=0.0,
                   help="also train each model this long and score it (0: skip)")
    p.add_argument("--quality-samples", type=int, default=10_000)
    p.add_argument("--json", action="store_true", help="print raw results as JSON too")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        p.error("--repeats and --steps must be at least 1")
    if not Path(args.reference).is_file():
        p.error(f"reference script not found: {args.reference} (pass --reference PATH)")
    known = registered_models()
    results, skipped = {}, []
    for case in CASES:
        if args.only and case.key not in args.only:
            continue
        model = next((m for m in case.models if m in known), None)
        if model is None:
            skipped.append(f"{case.label} (needs {' or '.join(case.models)})")
            continue
        results[case.key] = measure(case, model, args)
    text = table(results, skipped, args)
    if args.quality_minutes > 0:
        text += quality([m for m in QUALITY_MODELS if m in known], args)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.update_docs:
        update_docs(text)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
