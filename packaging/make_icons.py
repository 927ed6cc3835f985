"""Draw the app icon and write it in every size and format the platforms need.

    python packaging/make_icons.py          # rewrites resources/icons/

The icon is drawn here, not taken from anywhere: a rounded tile with a
violet-to-teal gradient and a 9 x 9 grid of pixels that goes from noise on the
left to a clean ring on the right, which is what a generative model does.
The master is drawn at 1024 px with 4x supersampling; every smaller PNG, the
Windows .ico and the macOS .icns are resampled from it. The output is
deterministic (fixed random seed), so rerunning it changes no file.
"""
from __future__ import annotations

import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "icons"
NAME = "latent-atelier"
MASTER = 1024
SUPERSAMPLE = 4
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)            # what Windows Explorer asks for
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)        # the iconset sizes macOS uses

TOP, BOTTOM = (59, 31, 110), (15, 139, 141)           # violet -> teal
GRID = 9


def _lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def _ring(x: float, y: float) -> float:
    """Brightness 0..1 of a ring centred in the grid (the 'clean' target image)."""
    r = math.hypot(x - (GRID - 1) / 2, y - (GRID - 1) / 2)
    return max(0.0, 1.0 - abs(r - 3.0) / 1.0)


def draw_master() -> Image.Image:
    size = MASTER * SUPERSAMPLE
    tile = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    gradient = Image.new("RGBA", (size, size))
    draw = ImageDraw.Draw(gradient)
    for row in range(size):
        draw.line([(0, row), (size, row)], fill=_lerp(TOP, BOTTOM, row / (size - 1)) + (255,))
    margin = round(size * 0.06)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([margin, margin, size - margin, size - margin],
                                           radius=round(size * 0.2), fill=255)
    tile.paste(gradient, (0, 0), mask)

    draw = ImageDraw.Draw(tile)
    rng = random.Random(7)
    inner = size - 2 * margin
    cell = inner * 0.78 / GRID
    start = margin + (inner - cell * GRID) / 2
    for gy in range(GRID):
        for gx in range(GRID):
            # The ring everywhere, drowned in noise on the left and clean on the right.
            noise = 0.75 * (1 - gx / (GRID - 1))
            value = noise * rng.random() + (1 - noise) * _ring(gx, gy)
            shade = _lerp((28, 18, 52), (250, 244, 232), value)
            x0, y0 = start + gx * cell, start + gy * cell
            gap = cell * 0.12
            draw.rounded_rectangle([x0 + gap, y0 + gap, x0 + cell - gap, y0 + cell - gap],
                                   radius=cell * 0.18, fill=shade + (255,))
    return tile.resize((MASTER, MASTER), Image.Resampling.LANCZOS)


def write_all(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    master = draw_master()
    written = []
    for px in PNG_SIZES:
        path = out / f"{NAME}-{px}.png"
        master.resize((px, px), Image.Resampling.LANCZOS).save(path, optimize=True)
        written.append(path)
    # The plain name is what the app and the .desktop entry load (256 px).
    plain = out / f"{NAME}.png"
    master.resize((256, 256), Image.Resampling.LANCZOS).save(plain, optimize=True)
    ico = out / f"{NAME}.ico"
    master.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES])
    icns = out / f"{NAME}.icns"
    master.save(icns, format="ICNS", append_images=[
        master.resize((s, s), Image.Resampling.LANCZOS) for s in ICNS_SIZES if s != MASTER])
    return written + [plain, ico, icns]


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
