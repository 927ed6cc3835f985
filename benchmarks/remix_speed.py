"""Speed and quality of the remix studio (GPNN, engine/studio/gpnn.py) on three
pictures drawn by benchmarks/remix_sources.py: a texture, a landscape-like
scene and a drawing.

    python benchmarks/remix_speed.py [--repeats 5] [--threads 1 2] [--seeds 8]
        [--compare-search] [--images docs/images] [--device cpu]

Prints one JSON line per measurement:

- speed: the median (and min, max) of --repeats timings of one variation at
  128 x 128 and 256 x 256 from a colour source of that size, wall and process
  CPU seconds, per thread count (after one untimed warm-up), beside the
  engine's own estimate;
- memory: the peak resident memory one picture adds, measured in a fresh
  process, beside the estimate;
- quality, per source over --seeds variations at 128 x 128 (256 x 256 with
  --size 256): "not a copy", the share of output patches taken from further
  than the patch size from their own position (engine.studio.gpnn.moved_share);
  "true to the source", the sliced Wasserstein distance between the output's
  7 x 7 patches and its source's, beside the distance to each other source
  (engine.metrics.patch_distribution.patch_swd); a tile's wrap-around seam
  against its largest interior step;
- flicker of the flip-book modes (mean absolute change between frames, 0-255);
- with --compare-search, the exact search at every level against the default
  (exact at coarse levels, windows at fine ones) and window radii 2 and 3.

With --images DIR it also writes the README's pictures (small PNGs and a GIF).
Benchmarks measure; nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine.metrics.patch_distribution import patch_swd  # noqa: E402
from engine.studio import remix  # noqa: E402
from engine.studio.gpnn import GpnnSettings, moved_share, synthesize  # noqa: E402
from remix_sources import SOURCES  # noqa: E402


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def tensor(pixels: np.ndarray, device: str = "cpu") -> torch.Tensor:
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div(255).to(device)


def uint8(image: torch.Tensor) -> np.ndarray:
    return (image.detach().cpu().permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def sources(side: int) -> dict[str, np.ndarray]:
    out = {}
    for name, make in SOURCES.items():
        picture = Image.fromarray(make())
        if picture.size != (side, side):
            picture = picture.resize((side, side), Image.Resampling.LANCZOS)
        out[name] = np.asarray(picture)
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def speed(args: argparse.Namespace) -> None:
    for threads in args.threads:
        torch.set_num_threads(threads)
        for side in (128, 256):
            for name, pixels in sources(side).items():
                src = tensor(pixels, args.device)
                synthesize(src, (side, side), GpnnSettings(), torch.Generator().manual_seed(99))
                wall, cpu = [], []
                for seed in range(args.repeats):
                    sync(args.device)
                    start, start_cpu = time.perf_counter(), time.process_time()
                    synthesize(src, (side, side), GpnnSettings(), torch.Generator().manual_seed(seed))
                    sync(args.device)
                    wall.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
                est = remix.estimate((side, side), (side, side), GpnnSettings(), False, 3, args.device)
                emit({"measure": "speed", "source": name, "size": side, "threads": threads,
                      "device": args.device, "repeats": args.repeats,
                      "median_s": round(statistics.median(wall), 3), "min_s": round(min(wall), 3),
                      "max_s": round(max(wall), 3), "median_cpu_s": round(statistics.median(cpu), 3),
                      "estimate_s": round(est.seconds, 2)})


_PEAK = """
import sys, torch
sys.path.insert(0, {root!r})
from engine.studio.gpnn import GpnnSettings, synthesize

def high_water():
    # VmHWM: this process's own peak (ru_maxrss can carry the parent's across exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

torch.set_num_threads(1)
side = {side}
synthesize(torch.rand(3, 32, 32), (32, 32), GpnnSettings(), torch.Generator().manual_seed(0))  # warm-up
src = torch.rand(3, side, side)
before = high_water()
synthesize(src, (side, side), GpnnSettings(), torch.Generator().manual_seed(0))
print(high_water() - before)
"""


def memory(args: argparse.Namespace) -> None:
    for side in (128, 256, 512):
        code = _PEAK.format(root=str(ROOT), side=side)
        peak = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout.strip())
        est = remix.estimate((side, side), (side, side), GpnnSettings(), False, 3, "cpu")
        emit({"measure": "memory", "size": side, "peak_added_mb": round(peak / 2**20, 1),
              "estimate_mb": round(est.bytes / 2**20, 1)})


def seam(image: np.ndarray) -> tuple[float, float]:
    x = image.astype(np.float64)
    across = (np.abs(x[:, 0] - x[:, -1]).mean() + np.abs(x[0] - x[-1]).mean()) / 2
    inside = max(np.abs(np.diff(x, axis=1)).mean(axis=(0, 2)).max(),
                 np.abs(np.diff(x, axis=0)).mean(axis=(1, 2)).max())
    return float(across), float(inside)


def quality(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads[0])
    side = args.size
    pictures = sources(side)
    settings = GpnnSettings()
    for name, pixels in pictures.items():
        src = tensor(pixels)
        moved, own, others = [], [], {o: [] for o in pictures if o != name}
        for seed in range(args.seeds):
            result = synthesize(src, (side, side), settings, torch.Generator().manual_seed(seed))
            moved.append(moved_share(result.matches, (side, side), (side, side), settings.patch_size))
            image = uint8(result.image)
            own.append(patch_swd(image, pixels))
            for other in others:
                others[other].append(patch_swd(image, pictures[other]))
        tile = uint8(synthesize(src, (side, side), settings, torch.Generator().manual_seed(0),
                                tile=True).image)
        across, inside = seam(tile)
        source_across, source_inside = seam(pixels)
        emit({"measure": "quality", "source": name, "size": side, "seeds": args.seeds,
              "moved_share_mean": round(float(np.mean(moved)), 3),
              "moved_share_min": round(float(np.min(moved)), 3),
              "moved_share_max": round(float(np.max(moved)), 3),
              "swd_to_source": round(float(np.mean(own)), 4),
              "swd_to_others": {o: round(float(np.mean(v)), 4) for o, v in others.items()},
              "swd_source_to_others": {o: round(patch_swd(pixels, pictures[o]), 4) for o in others},
              "tile_seam": round(across, 2), "tile_interior_max": round(inside, 2),
              "source_seam": round(source_across, 2), "source_interior_max": round(source_inside, 2)})


def flicker(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads[0])
    side = 128
    with tempfile.TemporaryDirectory() as folder:
        for name in ("texture", "landscape"):
            path = Path(folder) / f"{name}.png"
            Image.fromarray(sources(side)[name]).save(path)
            source = remix.load_source(path)
            for mode, drift in (("independent", 0.3), ("walk", 0.3), ("drift", 0.3), ("drift", 0.75)):
                flip = remix.FlipbookSettings(frames=12, mode=mode, drift=drift, crossfade=0,
                                              loop=True)
                [book] = [e for e in remix.flipbook(source, 0, flip, (side, side), device="cpu")
                          if isinstance(e, remix.Flipbook)]
                faded = remix.crossfade(book.frames, 3, loop=True)
                steps = [remix.flicker(book.frames[i:i + 2]) for i in range(len(book.frames) - 1)]
                emit({"measure": "flicker", "source": name, "mode": mode, "drift": drift,
                      "frames": 12, "flicker": round(book.flicker, 2),
                      "unchanged_steps": sum(step < 0.5 for step in steps),
                      "flicker_crossfade_3": round(remix.flicker(faded, loop=True), 2),
                      "seconds": round(book.seconds, 1)})


def compare_search(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads[0])
    side = 128
    pictures = sources(side)
    variants = {"default (exact to 8M pairs, then window 2)": GpnnSettings(),
                "window radius 3": GpnnSettings(window=3),
                "exact at every level": GpnnSettings(exact_pairs=10**12)}
    for label, settings in variants.items():
        for name, pixels in pictures.items():
            src = tensor(pixels)
            cpu, own, moved = [], [], []
            for seed in range(2):
                start = time.process_time()
                result = synthesize(src, (side, side), settings, torch.Generator().manual_seed(seed))
                cpu.append(time.process_time() - start)
                own.append(patch_swd(uint8(result.image), pixels))
                moved.append(moved_share(result.matches, (side, side), (side, side), 7))
            emit({"measure": "search", "variant": label, "source": name, "size": side,
                  "cpu_s": round(float(np.mean(cpu)), 2), "swd_to_source": round(float(np.mean(own)), 4),
                  "moved_share": round(float(np.mean(moved)), 3)})


def _small_png(image: np.ndarray, path: Path) -> None:
    """A README picture: 256 colours, no dithering (a few KB, not a hundred)."""
    Image.fromarray(image).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def images(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads[0])
    out = Path(args.images)
    out.mkdir(parents=True, exist_ok=True)
    side, gap = 128, 4
    pictures = sources(side)
    settings = GpnnSettings()

    def row(panels: list[np.ndarray]) -> np.ndarray:
        height = max(p.shape[0] for p in panels)
        parts = []
        for p in panels:
            pad = np.full((height, p.shape[1], 3), 255, np.uint8)
            pad[:p.shape[0]] = p
            parts += [pad, np.full((height, gap, 3), 255, np.uint8)]
        return np.concatenate(parts[:-1], 1)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        width = max(r.shape[1] for r in rows)
        parts = []
        for r in rows:
            pad = np.full((r.shape[0], width, 3), 255, np.uint8)
            pad[:, :r.shape[1]] = r
            parts += [pad, np.full((gap, width, 3), 255, np.uint8)]
        return np.concatenate(parts[:-1], 0)

    variations, retargets, tiles = [], [], []
    for name, pixels in pictures.items():
        src = tensor(pixels)
        made = [uint8(synthesize(src, (side, side), settings,
                                 torch.Generator().manual_seed(seed)).image) for seed in range(3)]
        variations.append(row([pixels] + made))
        wide = uint8(synthesize(src, (side, 2 * side), dataclasses.replace(settings, diversity=0.0),
                                torch.Generator().manual_seed(0)).image)
        retargets.append(row([pixels, wide]))
        tile = uint8(synthesize(tensor(np.asarray(Image.fromarray(pixels).resize((96, 96)))),
                                (96, 96), settings, torch.Generator().manual_seed(0), tile=True).image)
        tiles.append(np.tile(tile, (2, 2, 1)))
    _small_png(stack(variations), out / "remix-variations.png")
    _small_png(stack(retargets), out / "remix-retarget.png")
    _small_png(row(tiles), out / "remix-tiles.png")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "landscape.png"
        Image.fromarray(pictures["landscape"]).save(path)
        flip = remix.FlipbookSettings(frames=6, mode=args.flip_mode, drift=0.3, crossfade=1,
                                      loop=True)
        [book] = [e for e in remix.flipbook(remix.load_source(path), 0, flip, (112, 84),
                                            device="cpu") if isinstance(e, remix.Flipbook)]
    from engine.studio.exporters import ExportOptions, export_animation
    export_animation(book.frames, out / "remix-flipbook.gif", "gif",
                     ExportOptions(fps=6, palette="global"),
                     {k: v for k, v in book.provenance.items() if k != "source_sha256"})
    for name in ("remix-variations.png", "remix-retarget.png", "remix-tiles.png", "remix-flipbook.gif"):
        emit({"measure": "image", "file": str(out / name), "bytes": (out / name).stat().st_size})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--size", type=int, default=128, help="quality: picture side")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="+", default=None,
                        choices=["speed", "memory", "quality", "flicker", "search", "images"])
    parser.add_argument("--compare-search", action="store_true")
    parser.add_argument("--flip-mode", default="independent", choices=list(remix.FLIPBOOK_MODES),
                        help="the README's flip-book (default: independent seeds, cross-faded)")
    parser.add_argument("--images", default=None, help="write the README's pictures here")
    args = parser.parse_args()
    emit({"measure": "machine", "cpus": os.cpu_count(), "torch": torch.__version__,
          "threads_default": torch.get_num_threads(), "load_average": os.getloadavg()})
    wanted = args.only or ["speed", "memory", "quality", "flicker"] + \
        (["search"] if args.compare_search else []) + (["images"] if args.images else [])
    steps = {"speed": speed, "memory": memory, "quality": quality, "flicker": flicker,
             "search": compare_search, "images": images}
    for name in wanted:
        steps[name](args)


if __name__ == "__main__":
    main()
