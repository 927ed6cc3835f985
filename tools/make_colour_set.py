"""Write a realistic colour picture set from material shipped offline: views of
scikit-image's sample photographs and glyphs of many typefaces rendered in colour.

    python tools/make_colour_set.py OUTDIR [--n 1000] [--size 32] [--seed 0]
        [--photo-share 0.5] [--fonts /usr/share/fonts]

Two kinds of picture, one sub-folder per class (so `folder:OUTDIR` is an
unlabelled set and `folder:OUTDIR?labels=subfolders` a labelled one):

- photos: crops of the colour photographs that scikit-image ships (the
  astronaut, the cat, the coffee cup, the rocket, the Hubble deep field, a
  stained tissue section, a retina), each crop covering 45-100% of the
  photograph's shorter side at a random place, flipped half the time, with a
  slight change of brightness, contrast and saturation. Large crops keep the
  subject recognisable, so a grid of samples can be judged by eye.
- glyphs: letters and digits of the Latin, Greek and Cyrillic alphabets and
  common CJK characters, each in a typeface drawn from the fonts found under
  --fonts (a font that lacks a character is skipped for it), in a random colour
  on a contrasting background (flat or a soft gradient), slightly rotated and
  sized.

scikit-image is a dependency of this tool only, not of the app:
`pip install scikit-image`. The same arguments and the same installed fonts
always write the same files (the fonts are taken in name order).
"""
from __future__ import annotations

import argparse
import colorsys
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

# scikit-image sample photographs in colour ("cat" is the same picture as "chelsea").
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
          "immunohistochemistry", "retina")
PHOTO_CLASSES = {"chelsea": "cat", "hubble_deep_field": "hubble",
                 "immunohistochemistry": "tissue"}
SCRIPTS = {
    "latin": "ABCDEFGHIJKLMNOPQRSTUVWXYZabdefghkmnqrt",
    "digits": "0123456789",
    "greek": "ΑΓΔΘΛΞΠΣΦΨΩαβγδζθλξπσφψω",
    "cyrillic": "БГДЖЗИЛПФЦЧШЩЭЮЯбджзлфцэюя",
    "cjk": "人大山川日月水火木金土天中上下口田目手心雨花鳥魚馬龍門風雲森林石竹米糸車",
}
FONT_SUFFIXES = (".ttf", ".otf")
# Symbol fonts draw pictures at the letters' code points (a pencil for "b"): not text.
SYMBOL_FONTS = ("dingbat", "symbol", "d050000l")
CROP_SHARE = (0.45, 1.0)     # crop side as a share of the photograph's shorter side
GLYPH_SHARE = (0.55, 0.85)   # glyph height as a share of the picture
SUPERSAMPLE = 4              # glyphs are drawn this many times larger, then shrunk


@dataclass(frozen=True)
class SetConfig:
    """What to write: `count` pictures of side `size`, a share of them photo crops."""

    count: int = 1000
    size: int = 32
    seed: int = 0
    photo_share: float = 0.5

    def validate(self) -> None:
        if self.count < 1:
            raise ValueError(f"the number of pictures must be at least 1, not {self.count}")
        if not 8 <= self.size <= 512:
            raise ValueError(f"the side must be between 8 and 512 pixels, not {self.size}")
        if not 0 <= self.photo_share <= 1:
            raise ValueError(f"the photo share must be between 0 and 1, not {self.photo_share}")


def load_photos() -> dict[str, Image.Image]:
    """The colour sample photographs by class name (RGB)."""
    try:
        import skimage.data
    except ImportError as exc:
        raise RuntimeError("this tool needs scikit-image: pip install scikit-image") from exc
    return {PHOTO_CLASSES.get(name, name): Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
            for name in PHOTOS}


def photo_view(rng: np.random.Generator, photo: Image.Image, size: int) -> Image.Image:
    """A random square crop of `photo`, flipped or not, slightly re-toned, at `size`."""
    short = min(photo.size)
    side = int(short * rng.uniform(*CROP_SHARE))
    left = int(rng.integers(0, photo.width - side + 1))
    top = int(rng.integers(0, photo.height - side + 1))
    view = photo.crop((left, top, left + side, top + side))
    if rng.random() < 0.5:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    view = view.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    for enhancer, spread in ((ImageEnhance.Brightness, 0.15), (ImageEnhance.Contrast, 0.15),
                             (ImageEnhance.Color, 0.25)):
        view = enhancer(view).enhance(float(rng.uniform(1 - spread, 1 + spread)))
    return view


def find_fonts(root: Path) -> list[Path]:
    """Text font files under `root`, in name order (so the set does not depend
    on the order the file system lists them)."""
    fonts = sorted((p for p in root.rglob("*") if p.suffix.lower() in FONT_SUFFIXES
                    and not any(word in p.name.lower() for word in SYMBOL_FONTS)),
                   key=lambda p: (p.name, str(p)))
    if not fonts:
        raise RuntimeError(f"no .ttf or .otf fonts under {root}; point --fonts at a font folder")
    return fonts


class GlyphFonts:
    """Which fonts can draw which characters: a character a font lacks renders
    as the font's 'missing' box, which is what an unassigned code point draws."""

    MISSING = "\U0010FFFD"   # a private-use code point no text font draws

    def __init__(self, paths: list[Path], probe_size: int = 48) -> None:
        self.paths = paths
        self.probe_size = probe_size
        self._fonts: dict[Path, ImageFont.FreeTypeFont | None] = {}
        self._missing: dict[Path, bytes] = {}
        self._covers: dict[tuple[Path, str], bool] = {}

    def font(self, path: Path, size: int | None = None) -> ImageFont.FreeTypeFont | None:
        if size is not None:
            return ImageFont.truetype(str(path), size)
        if path not in self._fonts:
            try:
                self._fonts[path] = ImageFont.truetype(str(path), self.probe_size)
            except OSError:
                self._fonts[path] = None   # unreadable or not a text font: never chosen
        return self._fonts[path]

    def covers(self, path: Path, char: str) -> bool:
        key = (path, char)
        if key not in self._covers:
            font = self.font(path)
            self._covers[key] = font is not None and self._draws(font, path, char)
        return self._covers[key]

    def _draws(self, font: ImageFont.FreeTypeFont, path: Path, char: str) -> bool:
        mask = _glyph_mask(font, char)
        if mask is None:
            return False
        if path not in self._missing:
            missing = _glyph_mask(font, self.MISSING)
            self._missing[path] = missing.tobytes() if missing is not None else b""
        return mask.tobytes() != self._missing[path]


def _glyph_mask(font: ImageFont.FreeTypeFont, char: str) -> Image.Image | None:
    box = font.getbbox(char)
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    mask = Image.new("L", (box[2] - box[0], box[3] - box[1]))
    ImageDraw.Draw(mask).text((-box[0], -box[1]), char, font=font, fill=255)
    return mask if mask.getbbox() else None


def _colour(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value))


def _background(rng: np.random.Generator, big: int) -> tuple[np.ndarray, float, float]:
    """A flat or softly graded background (float RGB, big x big), its hue and brightness."""
    hue, value = rng.random(), rng.uniform(0.15, 0.95)
    start = _colour(hue, rng.uniform(0.2, 0.9), value)
    if rng.random() < 0.5:
        end = start
    else:
        end = _colour(hue + rng.uniform(-0.12, 0.12), rng.uniform(0.2, 0.9),
                      float(np.clip(value + rng.uniform(-0.25, 0.25), 0.05, 1.0)))
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:big, 0:big] / (big - 1) - 0.5
    t = np.clip(xs * math.cos(angle) + ys * math.sin(angle) + 0.5, 0, 1)[..., None]
    return (1 - t) * start + t * end, hue, value


def glyph_picture(rng: np.random.Generator, fonts: GlyphFonts, font_path: Path, char: str,
                  size: int) -> Image.Image:
    """`char` in `font_path`, coloured against a contrasting background, at `size`."""
    big = size * SUPERSAMPLE
    background, hue, value = _background(rng, big)
    picture = Image.fromarray((background * 255).round().astype(np.uint8), "RGB")
    # Ink: another hue, bright on a dark background and dark on a bright one.
    ink_value = rng.uniform(0.75, 1.0) if value < 0.55 else rng.uniform(0.0, 0.3)
    ink = _colour(hue + rng.uniform(0.25, 0.75), rng.uniform(0.3, 1.0), ink_value)
    font = fonts.font(font_path, big)
    assert font is not None
    mask = _glyph_mask(font, char)
    assert mask is not None
    height = rng.uniform(*GLYPH_SHARE) * big
    scale = min(height / mask.height, 0.9 * big / mask.width)
    mask = mask.resize((max(1, round(mask.width * scale)), max(1, round(mask.height * scale))),
                       Image.Resampling.LANCZOS)
    mask = mask.rotate(float(rng.uniform(-12, 12)), Image.Resampling.BICUBIC, expand=True)
    room_x, room_y = max(0, big - mask.width), max(0, big - mask.height)
    x = int(room_x / 2 + rng.uniform(-0.3, 0.3) * room_x)
    y = int(room_y / 2 + rng.uniform(-0.3, 0.3) * room_y)
    ink_rgb = tuple(int(round(c * 255)) for c in ink)
    picture.paste(Image.new("RGB", mask.size, ink_rgb), (x, y), mask)
    return picture.resize((size, size), Image.Resampling.LANCZOS)


def _class_plan(config: SetConfig, rng: np.random.Generator) -> list[str]:
    """The class of each picture: photos and glyphs in the asked shares, each
    kind's classes in turn, shuffled."""
    photos = round(config.count * config.photo_share)
    photo_classes = [PHOTO_CLASSES.get(n, n) for n in PHOTOS]
    plan = [photo_classes[i % len(photo_classes)] for i in range(photos)]
    plan += [list(SCRIPTS)[i % len(SCRIPTS)] for i in range(config.count - photos)]
    return [plan[i] for i in rng.permutation(len(plan))]


def write_set(out: Path, config: SetConfig, font_root: Path) -> list[Path]:
    """Write the set under out/<class>/NNNNN.png; returns the paths written."""
    config.validate()
    if out.exists() and any(out.iterdir()):
        # Pictures left from another set would be trained on as part of this one.
        raise ValueError(f"{out} is not empty; choose a new folder")
    rng = np.random.default_rng(config.seed)
    plan = _class_plan(config, rng)
    photos = load_photos() if any(c not in SCRIPTS for c in plan) else {}
    fonts = GlyphFonts(find_fonts(font_root)) if any(c in SCRIPTS for c in plan) else None
    paths = []
    for index, name in enumerate(plan):
        if name in SCRIPTS:
            assert fonts is not None
            picture = _random_glyph(rng, fonts, SCRIPTS[name], config.size)
        else:
            picture = photo_view(rng, photos[name], config.size)
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index:05d}.png"
        picture.save(path, optimize=False)
        paths.append(path)
    return paths


def _random_glyph(rng: np.random.Generator, fonts: GlyphFonts, characters: str,
                  size: int) -> Image.Image:
    """A random character of `characters` in a random font that draws it."""
    for _ in range(50):
        char = characters[int(rng.integers(len(characters)))]
        capable = [p for p in fonts.paths if fonts.covers(p, char)]
        if capable:
            return glyph_picture(rng, fonts, capable[int(rng.integers(len(capable)))], char, size)
    raise RuntimeError(f"no font can draw any of {characters!r}; install text fonts "
                       "(e.g. fonts-dejavu, fonts-droid-fallback) or point --fonts elsewhere")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write (created if missing)")
    parser.add_argument("--n", type=int, default=1000, help="number of pictures (default: 1000)")
    parser.add_argument("--size", type=int, default=32, help="side in pixels (default: 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photo-share", type=float, default=0.5,
                        help="share of photo crops; the rest are glyphs (default: 0.5)")
    parser.add_argument("--fonts", default="/usr/share/fonts",
                        help="folder searched for .ttf/.otf fonts (default: /usr/share/fonts)")
    args = parser.parse_args(argv)
    try:
        paths = write_set(Path(args.out), SetConfig(args.n, args.size, args.seed,
                                                    args.photo_share), Path(args.fonts))
    except (OSError, ValueError, RuntimeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(f"wrote {len(paths)} pictures of {args.size} x {args.size} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
