"""The first run a new user makes: the default preset on the bundled MNIST for
a few CPU minutes, scored on the shipped evaluator.

    python benchmarks/first_run.py [--minutes 3] [--seeds 0 1 2] [--samples 2000]
        [--model NAME] [--threads N] [--grid DIR] [--keep DIR]

For each seed: `latent-atelier-cli train --data mnist --minutes M --seed S`
(no model named, so the preset chooses, exactly as a first run does; --model
pins one to compare), then `eval RUN --samples N --seed 0 --json`. Prints one
JSON line per run (model, steps, FD, KID, confident fraction) and a last line
with the medians. With --grid it writes each run's 8 x 8 sample grid there.

Run it on an idle machine: the budget is wall-clock minutes, so other jobs
take steps away from the run. Benchmarks measure; nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CLI = [sys.executable, "-m", "engine.cli.main"]


def run_cli(args: list[str]) -> str:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def one_run(seed: int, options: argparse.Namespace, folder: Path) -> dict:
    run = folder / f"first-run-seed{seed}"
    train = ["train", "--data", "mnist", "--minutes", str(options.minutes),
             "--seed", str(seed), "--out", str(run)]
    if options.model:
        train += ["--model", options.model]
    if options.threads:
        train += ["--threads", str(options.threads)]
    run_cli(train)
    scores = json.loads(run_cli(["eval", str(run), "--samples", str(options.samples),
                                 "--seed", "0", "--json"]).strip().splitlines()[-1])
    manifest = json.loads((run / "manifest.json").read_text())
    config = json.loads((run / "config.json").read_text())
    if options.grid:
        Path(options.grid).mkdir(parents=True, exist_ok=True)
        run_cli(["sample", str(run), "--n", "64", "--seed", "0",
                 "--out", str(Path(options.grid) / f"first-run-seed{seed}.png")])
    return {"seed": seed, "model": config["train"]["model"], "steps": manifest["step"],
            "fd": scores.get("fd"), "kid": scores.get("kid"),
            "confident_fraction": scores.get("confident_fraction")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--model", help="pin a model instead of the preset's choice")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--grid", help="write each run's sample grid into this folder")
    parser.add_argument("--keep", help="keep the runs in this folder (default: a temporary one)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(options.keep or temporary)
        results = []
        for seed in options.seeds:
            results.append(one_run(seed, options, folder))
            print(json.dumps(results[-1]), flush=True)
    summary = {key: statistics.median(r[key] for r in results)
               for key in ("steps", "fd", "kid", "confident_fraction")
               if all(r[key] is not None for r in results)}
    print(json.dumps({"median": summary, "runs": len(results), "minutes": options.minutes}))


if __name__ == "__main__":
    main()
