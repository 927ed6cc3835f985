"""Three source pictures for the one-picture benchmarks, drawn here from seeds.

    python benchmarks/remix_sources.py OUTDIR     # writes texture.png, landscape.png, drawing.png

No photographs ship with the project or the machines it is measured on, so the
benchmark draws its own: a texture (pebbles set in mortar), a landscape-like
scene (sky, sun, clouds, three ridges of hills, a lake, trees) and a drawing
(ink doodles on paper). They are made with numpy and Pillow from fixed seeds,
so they are the same on every machine and free of anyone's rights.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 256


def texture(size: int = SIZE, seed: int = 1) -> np.ndarray:
    """Pebbles: Voronoi cells of jittered earth colours, shaded towards their
    rims, with dark mortar between them and a little grain."""
    rng = np.random.default_rng(seed)
    count = size * size // 300
    centres = rng.uniform(0, size, (count, 2))
    colours = np.array([[150, 120, 90], [110, 100, 95], [170, 150, 120], [90, 80, 70],
                        [130, 110, 80]], dtype=np.float64)
    tint = colours[rng.integers(0, len(colours), count)] + rng.normal(0, 12, (count, 3))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    points = np.stack([ys.ravel(), xs.ravel()], 1)
    # Distances to every centre, wrapping so the texture has no edge of its own.
    d = np.abs(points[:, None, :] - centres[None])
    d = np.minimum(d, size - d)
    dist = np.sqrt((d ** 2).sum(-1))
    order = np.argsort(dist, axis=1)[:, :2]
    nearest, second = order[:, 0], order[:, 1]
    d1 = dist[np.arange(len(points)), nearest]
    d2 = dist[np.arange(len(points)), second]
    edge = np.clip((d2 - d1) / 3.0, 0, 1)              # 0 on the mortar line
    shade = 1.0 - 0.35 * np.clip(d1 / 12.0, 0, 1) ** 2  # darker towards the rim
    rgb = tint[nearest] * shade[:, None]
    mortar = np.array([60, 55, 50], dtype=np.float64)
    rgb = rgb * edge[:, None] + mortar * (1 - edge[:, None])
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).reshape(size, size, 3).astype(np.uint8)


def _ridge(rng: np.random.Generator, width: int, base: float, rough: float) -> np.ndarray:
    """A hill line by midpoint displacement: heights for each column."""
    points = 2 ** math.ceil(math.log2(width)) + 1
    line = np.zeros(points)
    line[0], line[-1] = rng.normal(0, rough), rng.normal(0, rough)
    step, scale = points - 1, rough
    while step > 1:
        half = step // 2
        for start in range(0, points - 1, step):
            line[start + half] = (line[start] + line[start + step]) / 2 + rng.normal(0, scale)
        step, scale = half, scale * 0.55
    return base + line[:width]


def landscape(size: int = SIZE, seed: int = 2) -> np.ndarray:
    """A landscape-like scene: sky gradient, sun, soft clouds, three ridges of
    hills fading with distance, a lake reflecting the sky, trees on the shore."""
    rng = np.random.default_rng(seed)
    ys = np.linspace(0, 1, size)[:, None, None]
    sky = (1 - ys) * np.array([90, 140, 210]) + ys * np.array([235, 205, 170])
    img = np.broadcast_to(sky, (size, size, 3)).copy()
    picture = Image.fromarray(img.astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    sun = (size * 0.72, size * 0.22, size * 0.07)
    draw.ellipse([sun[0] - sun[2], sun[1] - sun[2], sun[0] + sun[2], sun[1] + sun[2]],
                 fill=(255, 236, 180))
    clouds = Image.new("L", (size, size), 0)
    cloud_draw = ImageDraw.Draw(clouds)
    for _ in range(9):
        cx, cy = rng.uniform(0, size), rng.uniform(size * 0.05, size * 0.35)
        for _ in range(5):
            rx, ry = rng.uniform(8, 22), rng.uniform(4, 9)
            ox, oy = rng.normal(0, 10), rng.normal(0, 3)
            cloud_draw.ellipse([cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry], fill=200)
    clouds = clouds.filter(ImageFilter.GaussianBlur(3))
    picture = Image.composite(Image.new("RGB", (size, size), (250, 250, 250)), picture, clouds)
    draw = ImageDraw.Draw(picture)
    colours = [(120, 130, 170), (70, 105, 95), (45, 80, 50)]
    for layer, (base, rough) in enumerate([(0.50, 0.10), (0.60, 0.07), (0.70, 0.05)]):
        heights = _ridge(rng, size, base * size, rough * size)
        polygon = [(x, float(heights[x])) for x in range(size)] + [(size, size), (0, size)]
        draw.polygon(polygon, fill=colours[layer])
    lake_top = int(size * 0.80)
    water = np.asarray(picture).astype(np.float64)
    reflection = water[lake_top - 1::-1][: size - lake_top]
    ripple = 0.85 + 0.15 * np.sin(np.arange(size - lake_top)[:, None, None] * 1.3)
    water[lake_top:] = reflection * 0.6 * ripple + np.array([30, 60, 90]) * 0.4
    picture = Image.fromarray(np.clip(water, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(14):
        x = rng.uniform(0, size)
        y = lake_top - rng.uniform(2, 10)
        h = rng.uniform(14, 30)
        draw.polygon([(x, y - h), (x - h * 0.3, y), (x + h * 0.3, y)], fill=(25, 60, 35))
        draw.line([(x, y), (x, y + 3)], fill=(60, 40, 25), width=2)
    array = np.asarray(picture).astype(np.float64) + rng.normal(0, 3, (size, size, 3))
    return np.clip(array, 0, 255).astype(np.uint8)


def drawing(size: int = SIZE, seed: int = 3) -> np.ndarray:
    """Ink doodles on paper: spirals, flowers, stars and little houses drawn
    with wobbly lines, as a quick sketchbook page."""
    rng = np.random.default_rng(seed)
    scale = 2    # drawn at twice the size and reduced, for smooth strokes
    big = size * scale
    picture = Image.new("L", (big, big), 245)
    draw = ImageDraw.Draw(picture)
    ink, width = 30, 2 * scale

    def wobbly(points: list[tuple[float, float]]) -> None:
        jitter = [(x + rng.normal(0, 0.8 * scale), y + rng.normal(0, 0.8 * scale)) for x, y in points]
        draw.line(jitter, fill=ink, width=width, joint="curve")

    cells = 5
    step = big / cells
    for row in range(cells):
        for col in range(cells):
            cx = (col + 0.5) * step + rng.normal(0, step * 0.08)
            cy = (row + 0.5) * step + rng.normal(0, step * 0.08)
            r = step * rng.uniform(0.25, 0.38)
            kind = rng.integers(0, 4)
            if kind == 0:    # spiral
                t = np.linspace(0, 5 * math.pi, 80)
                wobbly([(cx + r * s / t[-1] * math.cos(s), cy + r * s / t[-1] * math.sin(s)) for s in t])
            elif kind == 1:  # flower: petals round a centre
                petals = int(rng.integers(5, 8))
                for k in range(petals):
                    a = 2 * math.pi * k / petals
                    t = np.linspace(0, math.pi, 16)
                    wobbly([(cx + r * math.sin(s) * math.cos(a) - r * 0.3 * math.sin(s) * math.sin(a) * math.cos(s),
                             cy + r * math.sin(s) * math.sin(a) + r * 0.3 * math.sin(s) * math.cos(a) * math.cos(s))
                            for s in t])
                draw.ellipse([cx - r * 0.15, cy - r * 0.15, cx + r * 0.15, cy + r * 0.15], outline=ink,
                             width=width)
            elif kind == 2:  # star
                spikes = int(rng.integers(5, 7))
                points = []
                for k in range(2 * spikes + 1):
                    a = math.pi * k / spikes - math.pi / 2
                    rr = r if k % 2 == 0 else r * 0.45
                    points.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
                wobbly(points)
            else:            # a little house
                w, h = r * 1.2, r * 0.9
                body = [(cx - w / 2, cy), (cx - w / 2, cy + h / 2), (cx + w / 2, cy + h / 2),
                        (cx + w / 2, cy), (cx - w / 2, cy)]
                wobbly(body)
                wobbly([(cx - w / 2 - 4, cy + 2), (cx, cy - h * 0.7), (cx + w / 2 + 4, cy + 2)])
                wobbly([(cx - w * 0.1, cy + h / 2), (cx - w * 0.1, cy + h * 0.15),
                        (cx + w * 0.12, cy + h * 0.15), (cx + w * 0.12, cy + h / 2)])
    small = picture.resize((size, size), Image.Resampling.LANCZOS)
    grey = np.asarray(small).astype(np.float64) + rng.normal(0, 2, (size, size))
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    # Warm paper: the drawing is a colour picture with nearly grey content.
    paper = np.stack([grey, grey * 0.98, grey * 0.93], -1)
    return np.clip(paper, 0, 255).astype(np.uint8)


SOURCES = {"texture": texture, "landscape": landscape, "drawing": drawing}


def write_sources(folder: str | Path) -> dict[str, Path]:
    """Write the three pictures as PNGs in `folder`; their paths by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, make in SOURCES.items():
        path = folder / f"{name}.png"
        Image.fromarray(make()).save(path)
        written[name] = path
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write texture.png, landscape.png, drawing.png")
    for name, path in write_sources(parser.parse_args().out).items():
        print(f"{name}: {path}")
