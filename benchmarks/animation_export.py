#!/usr/bin/env python3
"""How fast and faithful latent-walk export is: a 120-frame, 256 x 256 walk.

    python benchmarks/animation_export.py [--run RUN] [--repeats 3] [--device cpu] [--threads N]

Without --run it trains a dcgan 64 x 64 (width 32, the app default width) for one
step on the bundled MNIST (timing needs the architecture, not good weights).
Each repeat, in a fresh process, measures: building the model from the run
(first use in the process, so torch's lazy imports count), rendering 120 frames
(5 keyframes, 23 between, loop, ease in-out, slerp), and writing GIF and MP4 at
4x (256 x 256). It prints a Markdown table with medians, file sizes and the
mean PSNR of the GIF's frames against the rendered ones; then the colour GIF
PSNR on a synthetic colour walk (no colour model ships yet). It also reports
the cold process's CPU time (all threads), which a shared machine distorts far
less than wall time, and whether loading the run imported torch._dynamo (it
must not: models built to sample build no optimiser). --threads sets
OMP_NUM_THREADS for the measured processes (default: torch's own choice).
"""
from __future__ import annotations

import argparse
import os
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ONE_REPEAT = r"""
import json, sys, time, tempfile
from pathlib import Path
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
from PIL import Image
from engine.studio.animation import WalkRenderer
from engine.studio.exporters import ExportOptions, export_animation
from engine.studio.keyframes import Timeline
run, device = sys.argv[1], sys.argv[2]
timeline = Timeline.from_seeds([1, 7, 42, 3, 9], frames_between=23, loop=True, ease="in-out")
renderer = WalkRenderer(run, device)
t1, c1 = time.perf_counter(), time.process_time()
frames, provenance = renderer.render(timeline)
t2, c2 = time.perf_counter(), time.process_time()
dynamo = "torch._dynamo" in sys.modules
again, _ = renderer.render(timeline); t3 = time.perf_counter()
out = Path(tempfile.mkdtemp())
options = ExportOptions(fps=24, scale=4)
t4, c4 = time.perf_counter(), time.process_time()
gif = export_animation(frames, out / "w.gif", "gif", options, provenance)
t5, c5 = time.perf_counter(), time.process_time()
mp4 = export_animation(frames, out / "w.mp4", "mp4", options, provenance)
t6, c6 = time.perf_counter(), time.process_time()
psnr = []
with Image.open(gif) as picture:
    for i in range(picture.n_frames):
        picture.seek(i)
        got = np.asarray(picture.convert("L"))[::4, ::4].astype(float)
        mse = np.mean((got - frames[i][:, :, 0]) ** 2)
        psnr.append(float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse))
print(json.dumps({"first_render_s": t2 - t1, "warm_render_s": t3 - t2, "gif_write_s": t5 - t4,
                  "mp4_write_s": t6 - t5, "gif_bytes": gif.stat().st_size, "mp4_bytes": mp4.stat().st_size,
                  "frames": len(frames), "size": [int(d) * 4 for d in frames.shape[1:3]],
                  "gif_psnr": float(np.mean(psnr)), "process_s": t6 - t0, "imports_s": t1 - t0,
                  "first_render_cpu_s": c2 - c1, "gif_write_cpu_s": c5 - c4,
                  "dynamo_imported": dynamo}))
"""

COLOUR = r"""
import json, numpy as np
from PIL import Image
from engine.studio.exporters import ExportOptions
from engine.studio.exporters.gif import gif_bytes
import io
y, x = np.mgrid[0:64, 0:64] / 64
frames = []
for i in range(120):
    p = 2 * np.pi * i / 120
    rgb = np.stack([np.sin(5 * x + p), np.cos(4 * y - p), np.sin(3 * (x + y) + 2 * p)], -1)
    blob = np.exp(-(((x - 0.5 - 0.3 * np.cos(p)) ** 2 + (y - 0.5 - 0.3 * np.sin(p)) ** 2) / 0.02))
    frames.append((((rgb * (0.5 + 0.5 * blob[..., None])) + 1) * 127.5).round().astype(np.uint8))
out = {}
for palette in ("per-frame", "global"):
    data = gif_bytes(frames, ExportOptions(scale=4, palette=palette, dither=True), None)
    psnr = []
    with Image.open(io.BytesIO(data)) as g:
        for i in range(g.n_frames):
            g.seek(i)
            got = np.asarray(g.convert("RGB"))[::4, ::4].astype(float)
            mse = np.mean((got - frames[i]) ** 2)
            psnr.append(10 * np.log10(255 ** 2 / mse))
    out[palette] = [float(np.mean(psnr)), len(data)]
print(json.dumps(out))
"""


def make_run(folder: Path, device: str) -> Path:
    run = folder / "dcgan64"
    subprocess.run([sys.executable, "-m", "engine", "train", "--model", "dcgan", "--data", "mnist",
                    "--image-size", "64", "--width", "32", "--steps", "1", "--device", device,
                    "--out", str(run)], cwd=ROOT, check=True, capture_output=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the measured processes (default: torch's choice)")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else make_run(Path(tmp), args.device)
        results = []
        for _ in range(args.repeats):
            done = subprocess.run([sys.executable, "-c", ONE_REPEAT, str(run), args.device], cwd=ROOT,
                                  check=True, capture_output=True, text=True, env=env)
            results.append(json.loads(done.stdout))
        colour = json.loads(subprocess.run([sys.executable, "-c", COLOUR], cwd=ROOT, check=True,
                                           capture_output=True, text=True).stdout)
    med = {key: statistics.median(r[key] for r in results)
           for key in ("first_render_s", "warm_render_s", "gif_write_s", "mp4_write_s", "gif_bytes",
                       "mp4_bytes", "gif_psnr", "process_s", "imports_s", "first_render_cpu_s",
                       "gif_write_cpu_s")}
    w, h = results[0]["size"]
    print(f"{results[0]['frames']} frames of {w} x {h}, {args.repeats} fresh processes, medians:\n")
    print("| step | seconds |\n|---|---|")
    print(f"| build model + render (first in process) | {med['first_render_s']:.2f} |")
    print(f"| render again (model built, the studio's case) | {med['warm_render_s']:.2f} |")
    print(f"| write GIF | {med['gif_write_s']:.2f} |")
    print(f"| write MP4 (H.264, crf 18) | {med['mp4_write_s']:.2f} |")
    print(f"| **GIF total, model time included** | **{med['first_render_s'] + med['gif_write_s']:.2f}** |")
    print(f"| **MP4 total, model time included** | **{med['first_render_s'] + med['mp4_write_s']:.2f}** |")
    print(f"| imports (Python, torch, engine; not counted above) | {med['imports_s']:.2f} |")
    print(f"| whole cold process (imports, build, render twice, both writes) | {med['process_s']:.2f} |")
    per_run = ", ".join(f"{r['first_render_s']:.2f}" for r in results)
    dynamo = sorted({r["dynamo_imported"] for r in results})
    print(f"\nCPU time of the cold build + render {med['first_render_cpu_s']:.2f} s, of the GIF "
          f"write {med['gif_write_cpu_s']:.2f} s; torch._dynamo imported while loading the run: "
          f"{dynamo}; build + render per run: {per_run} s")
    print(f"\nGIF {med['gif_bytes'] / 1024:.0f} KB, MP4 {med['mp4_bytes'] / 1024:.0f} KB; "
          f"GIF mean PSNR against the rendered frames: {med['gif_psnr']:.1f} dB (inf = exact)")
    print(f"Colour (synthetic, dithered): per-frame palette {colour['per-frame'][0]:.1f} dB "
          f"({colour['per-frame'][1] / 1024:.0f} KB), global palette {colour['global'][0]:.1f} dB "
          f"({colour['global'][1] / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
