"""A runs folder that holds one good run beside hostile copies of it (issue 22,
item 7): config.json, manifest.json or metrics.jsonl nested 5,000 deep, or
replaced by a FIFO, which blocks any plain open() for reading forever."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

DEEP = "[" * 5000 + "]" * 5000
RUN_FILES = ("config.json", "manifest.json", "metrics.jsonl")


def hostile_runs(good_run: Path, runs: Path, name: str = "good") -> dict[str, Path]:
    """Copy `good_run` to runs/name and beside it one run per fault; returns name -> path."""
    made = {name: Path(shutil.copytree(good_run, runs / name))}
    for file in RUN_FILES:
        deep = Path(shutil.copytree(good_run, runs / f"deep-{file}"))
        (deep / file).write_text(DEEP + "\n")
        fifo = Path(shutil.copytree(good_run, runs / f"fifo-{file}"))
        (fifo / file).unlink()
        os.mkfifo(fifo / file)
        made[deep.name], made[fifo.name] = deep, fifo
    # An evaluation line nested deep, and one whose fields have the wrong types.
    evals = Path(shutil.copytree(good_run, runs / "bad-evaluations"))
    with open(evals / "metrics.jsonl", "a") as f:
        f.write('{"kind": "evaluation", "fd": 1.0, "x": ' + DEEP + "}\n")
        f.write(json.dumps({"kind": "evaluation", "fd": 2.0, "checkpoint": [1], "step": "x",
                            "samples": {}, "fd_label": 5}) + "\n")
        f.write(json.dumps({"kind": "evaluation", "fd": 10**400}) + "\n")
    made[evals.name] = evals
    # A manifest whose kept list is not a list of names.
    kept = Path(shutil.copytree(good_run, runs / "bad-kept"))
    manifest = json.loads((kept / "manifest.json").read_text())
    (kept / "manifest.json").write_text(json.dumps({**manifest, "kept": 5}))
    made[kept.name] = kept
    return made
