"""Load time and peak memory of data sources: a folder of JPEGs and CIFAR-10-sized data.

    python benchmarks/data_loading.py --images 10000 --side 512 --size 64 --repeats 3

Generates the data once in a temporary folder (not timed; 500 distinct JPEGs
copied to the requested count), then for each repeat
runs `latent-atelier-cli data SPEC --json` in a fresh process and reports its
wall time and peak resident memory (max RSS of the child). The folder is loaded
with the cache off (a cold decode), then once more with the cache filled (a
second run); CIFAR-10 is 50,000 + 10,000 32 x 32 records in the binary format.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _write_jpegs(args: tuple[Path, int, int, int]) -> None:
    from PIL import Image

    folder, start, stop, side = args
    rng = np.random.default_rng(start)
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    for i in range(start, stop):
        # Smooth colour gradients plus mild noise: photo-like JPEG sizes (~30 KB).
        r, g = np.meshgrid(ramp * rng.uniform(0.3, 1), ramp[::-1] * rng.uniform(0.3, 1))
        b = np.full_like(r, rng.uniform(0, 255))
        image = np.stack([r, g, b], -1) + rng.normal(0, 8, (side, side, 3))
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
            folder / f"{i:05d}.jpg", quality=90)


def make_folder(folder: Path, count: int, side: int, unique: int = 500) -> None:
    """`unique` distinct JPEGs, copied byte for byte up to `count` files: each
    file is still opened and decoded on its own, and encoding is the slow part."""
    folder.mkdir(parents=True, exist_ok=True)
    workers = os.cpu_count() or 1
    distinct = min(count, unique)
    chunks = [(folder, i, min(distinct, i + 50), side) for i in range(0, distinct, 50)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_jpegs, chunks))
    for i in range(distinct, count):
        (folder / f"{i:05d}.jpg").write_bytes((folder / f"{i % distinct:05d}.jpg").read_bytes())


def make_cifar(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        records = rng.integers(0, 256, (10_000, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        (folder / f"{name}.bin").write_bytes(records.tobytes())


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, float, dict]:
    """(wall seconds, CPU seconds, peak MB, JSON result) of one CLI command in a
    fresh process. CPU time (all threads) is what a busy machine distorts least."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_kb, cpu = proc.stderr.rsplit("maxrss", 1)[1].split()
    return seconds, float(cpu), int(peak_kb) / 1024, json.loads(proc.stdout)


# The child reports its own peak (Linux: KB), so each case is measured alone.
_CHILD = ("import resource, sys; from engine.cli.main import main; code = main(sys.argv[1:]); "
          "u = resource.getrusage(resource.RUSAGE_SELF); "
          "sys.stderr.write('maxrss %d %.3f' % (u.ru_maxrss, u.ru_utime + u.ru_stime)); "
          "sys.exit(code)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "LATENT_ATELIER_HOME": str(tmp_path / "home")}
        t = time.perf_counter()
        make_folder(tmp_path / "jpegs", args.images, args.side)
        make_cifar(tmp_path / "cifar")
        print(f"generated data in {time.perf_counter() - t:.0f} s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        spec = f"folder:{tmp_path / 'jpegs'}"
        cases = {
            "folder, cold (no cache)": (["data", spec, "--size", str(args.size), "--no-cache"], None),
            "folder, second run (cache)": (["data", spec, "--size", str(args.size)], "fill"),
            "cifar10 binary, 50,000 images": (["data", f"cifar10:{tmp_path / 'cifar'}"], None),
        }
        for name, (cli, prepare) in cases.items():
            if prepare == "fill":
                run_cli(cli, env)   # fill the cache once
            loads, walls, cpus, peaks = [], [], [], []
            for _ in range(args.repeats):
                wall, cpu, peak, result = run_cli(cli, env)
                loads.append(result["seconds"])   # the load itself, as the engine timed it
                walls.append(wall)                # plus Python, torch and CLI start-up
                cpus.append(cpu)
                peaks.append(peak)
            print(f"{name}: {result['count']:,} images -> {result['size']}, load median "
                  f"{statistics.median(loads):.2f} s (runs {', '.join(f'{t:.2f}' for t in loads)}), "
                  f"whole process {statistics.median(walls):.1f} s wall, "
                  f"{statistics.median(cpus):.1f} s CPU, peak RSS {max(peaks):.0f} MB, "
                  f"from cache: {result['from_cache']}", flush=True)


if __name__ == "__main__":
    main()
