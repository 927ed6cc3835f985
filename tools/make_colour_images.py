"""Write a small CIFAR-like colour data set: N 32 x 32 PNGs of shapes on gradients.

    python tools/make_colour_images.py OUTDIR [--n 500] [--seed 0] [--size 32]

Each picture is one shape (its kind is the class: circle, square, triangle,
ring, cross) of a random colour, size and position over a two-colour linear
gradient at a random angle, so a GAN that collapses to one picture is easy to
see and to measure. Pictures go in one sub-folder per class, so
`folder:OUTDIR` is an unlabelled set and `folder:OUTDIR?labels=subfolders` a
labelled one. The same arguments always write the same files.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "ring", "cross")
SUPERSAMPLE = 4     # drawn this many times larger, then shrunk: smooth edges


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) float RGB: two random muted colours blended along a random direction."""
    start, end = rng.uniform(0.1, 0.8, 3), rng.uniform(0.1, 0.8, 3)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    t = np.clip(xs * math.cos(angle) + ys * math.sin(angle) + 0.5, 0, 1)[..., None]
    return (1 - t) * start + t * end


def _shape_colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A saturated colour that stands out from the background's mean."""
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(20):
        colour = rng.uniform(0, 1, 3)
        colour[rng.integers(3)] = rng.uniform(0.85, 1.0)     # at least one bright channel
        if np.abs(colour - mean).sum() > 0.6:
            break
    return tuple(int(c * 255) for c in colour)


def _draw_shape(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float,
                angle: float, colour: tuple[int, int, int]) -> None:
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(1, int(r * 0.35)))
    elif kind in ("square", "triangle"):
        corners = 4 if kind == "square" else 3
        points = [(cx + r * math.cos(angle + 2 * math.pi * k / corners),
                   cy + r * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]
        draw.polygon(points, fill=colour)
    else:  # cross: two bars at right angles
        half = r * 0.3
        for turn in (0.0, math.pi / 2):
            a = angle + turn
            dx, dy = math.cos(a), math.sin(a)
            px, py = -dy * half, dx * half
            draw.polygon([(cx - dx * r + px, cy - dy * r + py), (cx + dx * r + px, cy + dy * r + py),
                          (cx + dx * r - px, cy + dy * r - py), (cx - dx * r - px, cy - dy * r - py)],
                         fill=colour)


def make_image(rng: np.random.Generator, kind: str, size: int = 32) -> Image.Image:
    big = size * SUPERSAMPLE
    background = _gradient(rng, big)
    picture = Image.fromarray((background * 255).round().astype(np.uint8), "RGB")
    r = rng.uniform(0.18, 0.38) * big
    cx, cy = rng.uniform(r * 0.8, big - r * 0.8, 2)
    _draw_shape(ImageDraw.Draw(picture), kind, cx, cy, r, rng.uniform(0, 2 * math.pi),
                _shape_colour(rng, background))
    return picture.resize((size, size), Image.Resampling.LANCZOS)


def write_dataset(out: Path, count: int = 500, seed: int = 0, size: int = 32,
                  classes: int = len(SHAPES)) -> list[Path]:
    """Write `count` pictures (classes in turn) under out/<class>/; returns their paths."""
    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"classes must be between 1 and {len(SHAPES)}, not {classes}")
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        kind = SHAPES[i % classes]
        folder = out / f"{i % classes}_{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:05d}.png"
        make_image(rng, kind, size).save(path, optimize=False)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write (created if missing)")
    parser.add_argument("--n", type=int, default=500, help="number of pictures (default: 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=32, help="side in pixels (default: 32)")
    parser.add_argument("--classes", type=int, default=len(SHAPES),
                        help=f"shape kinds used, 1-{len(SHAPES)} (default: {len(SHAPES)})")
    args = parser.parse_args(argv)
    if args.n < 1 or args.size < 8:
        sys.stderr.write("error: --n must be at least 1 and --size at least 8\n")
        return 2
    try:
        paths = write_dataset(Path(args.out), args.n, args.seed, args.size, args.classes)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(f"wrote {len(paths)} pictures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
