"""The one path from an image file to model-ready uint8 pixels.

Whatever a file holds (EXIF-rotated phone photos, palette PNGs with
transparency, CMYK JPEGs, 16-bit greyscale, alpha), `decode_image` returns a
(C, S, S) uint8 array: orientation applied, transparency composited onto a
chosen background, converted to greyscale or RGB, resized by a chosen policy.
A file that cannot be used raises `UnusableImage` whose message is the reason
shown to the user; nothing else escapes, so one bad file never stops a load.
Huge pictures are refused from their header, before any pixel is decoded.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Formats a folder source reads, by file name; GIFs give their first frame.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".gif",
                            ".tif", ".tiff"})
_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "BMP", "DIB", "GIF", "TIFF"})
FITS = ("crop", "pad", "stretch")
# One picture at its own shape (not a data set's square): the aspect ratio kept,
# the longer side reduced to at most `size`, never enlarged.
WITHIN = "within"
NAMED_BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128),
                     "gray": (128, 128, 128)}
# Pillow's own decompression-bomb limit stays on (it refuses twice this from the
# header); this default refuses anything over it, before decoding, with a reason.
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
DEFAULT_MAX_FILE_BYTES = 512 * 2**20


class UnusableImage(Exception):
    """This file cannot be used; str(exc) is the reason, for a person."""


@dataclass(frozen=True)
class DecodeOptions:
    size: int = 64
    channels: int | None = None           # 1 or 3; None: 1 for greyscale pictures, else 3
    fit: str = "crop"                     # crop (centre), pad (letterbox) or stretch
    background: tuple[int, int, int] = (255, 255, 255)  # under transparency and padding
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray                    # (1 or 3, S, S) uint8; (1 or 3, H, W) for WITHIN
    original_size: tuple[int, int]        # (width, height) after EXIF orientation


def parse_background(text: str) -> tuple[int, int, int]:
    """'white', 'black', 'grey' or '#rrggbb' -> an RGB triple; ValueError otherwise."""
    text = text.strip().lower()
    if text in NAMED_BACKGROUNDS:
        return NAMED_BACKGROUNDS[text]
    digits = text.lstrip("#")
    if len(digits) == 6:
        try:
            return tuple(int(digits[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
        except ValueError:
            pass
    raise ValueError(f"background {text!r} is not white, black, grey or #rrggbb")


def decode_image(path: str | Path, options: DecodeOptions) -> DecodedImage:
    """Decode one picture to (C, size, size) uint8, or raise UnusableImage(reason)."""
    try:
        stat = os.stat(path)
    except PermissionError:
        raise UnusableImage("permission denied") from None
    except OSError as exc:
        raise UnusableImage(f"cannot read the file ({exc.strerror or exc})") from None
    if stat.st_size == 0:
        raise UnusableImage("empty file (0 bytes)")
    if stat.st_size > options.max_file_bytes:
        raise UnusableImage(f"file is {stat.st_size / 2**20:,.0f} MB, over the "
                            f"{options.max_file_bytes / 2**20:,.0f} MB limit for one picture")
    try:
        with Image.open(path) as image:
            return _decode_open(image, options)
    except UnusableImage:
        raise
    except Image.DecompressionBombError as exc:
        raise UnusableImage(f"refused as a possible decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise UnusableImage("not a picture Pillow can read (unknown format or not an image)") from None
    except PermissionError:
        raise UnusableImage("permission denied") from None
    except MemoryError:
        raise UnusableImage("out of memory while decoding") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error,
            TypeError, KeyError, ZeroDivisionError) as exc:
        # Pillow reports damage in many shapes: "image file is truncated",
        # "broken data stream", "Truncated File Read", bad TIFF tags...
        raise UnusableImage(f"damaged or truncated ({_first_line(exc)})") from None


def _decode_open(image: Image.Image, options: DecodeOptions) -> DecodedImage:
    width, height = image.size
    if width * height > options.max_pixels:
        raise UnusableImage(f"{width:,} x {height:,} pixels is over the limit of "
                            f"{options.max_pixels:,} (a possible decompression bomb); not decoded")
    if image.format not in _FORMATS:
        raise UnusableImage(f"unsupported format {image.format or 'unknown'}")
    if image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L", "CMYK"):
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is that much
        # smaller: a 4000 x 3000 photo to 64 x 64 costs a fraction of a full decode.
        # The result is at least size x size, so no policy loses resolution.
        image.draft(image.mode, (options.size, options.size))
    image.load()
    loaded = image.size
    image = ImageOps.exif_transpose(image)
    # The size as shown (EXIF orientation may swap the sides), before any draft scaling.
    turned = loaded != image.size
    original = (height, width) if turned else (width, height)
    flat = _to_8bit(image, options.background)
    if options.channels == 1 and flat.mode != "L":
        flat = flat.convert("L")
    fitted = _fit(flat, options)
    pixels = np.asarray(fitted, dtype=np.uint8)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    if options.channels == 3 and pixels.shape[0] == 1:
        pixels = np.repeat(pixels, 3, axis=0)
    return DecodedImage(np.ascontiguousarray(pixels), original)


def _to_8bit(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any mode -> "L" (greyscale) or "RGB", transparency composited on background."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_high_depth_to_uint8(np.asarray(image), mode), "L")
    if mode == "1":
        return image.convert("L")
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if mode == "L":
        return image
    if mode == "P" and image.palette is not None and image.palette.mode == "L":
        return image.convert("L")
    return image.convert("RGB")  # RGB, P, CMYK, YCbCr, LAB, HSV, ...


def _high_depth_to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    # 16-bit (and 32-bit integer) greyscale spans 0..65535; floats are 0..1 or
    # 0..255. Scale, never clip, so a 16-bit scan does not turn white.
    values = array.astype(np.float64)
    if mode == "F":
        scale = 255.0 if values.size and np.nanmax(values) <= 1.0 else 1.0
    else:
        scale = 255.0 / 65535.0
    return np.clip(np.nan_to_num(values * scale), 0, 255).round().astype(np.uint8)


def _fit(image: Image.Image, options: DecodeOptions) -> Image.Image:
    side = options.size
    w, h = image.size
    lanczos = Image.Resampling.LANCZOS
    if options.fit == WITHIN:
        scale = min(1.0, side / max(w, h))
        if scale == 1.0:
            return image
        return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), lanczos,
                            reducing_gap=3.0)
    if options.fit == "stretch":
        return image.resize((side, side), lanczos, reducing_gap=3.0)
    if options.fit == "crop":
        short = min(w, h)
        box = ((w - short) / 2, (h - short) / 2, (w + short) / 2, (h + short) / 2)
        return image.resize((side, side), lanczos, box=box, reducing_gap=3.0)
    if options.fit == "pad":
        scale = side / max(w, h)
        inner = (max(1, round(w * scale)), max(1, round(h * scale)))
        resized = image.resize(inner, lanczos, reducing_gap=3.0)
        fill: int | tuple[int, int, int] = options.background
        if image.mode == "L":
            r, g, b = options.background
            fill = round(0.299 * r + 0.587 * g + 0.114 * b)
        canvas = Image.new(image.mode, (side, side), fill)
        canvas.paste(resized, ((side - inner[0]) // 2, (side - inner[1]) // 2))
        return canvas
    raise ValueError(f"fit must be one of {', '.join(FITS)}, not {options.fit!r}")


def is_greyscale(pixels: np.ndarray) -> bool:
    """True when a (C, H, W) picture has one channel or three equal ones."""
    return pixels.shape[0] == 1 or bool((pixels[0] == pixels[1]).all() and
                                        (pixels[1] == pixels[2]).all())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
