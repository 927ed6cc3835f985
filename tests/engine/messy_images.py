"""Generated pictures of every awkward kind, for the data-source tests.

Each writer makes one small file with Pillow (or raw bytes) under a folder the
test gives, so no test depends on files from anywhere else.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def save(image: Image.Image, path: Path, **params) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **params)
    return path


def halves(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(Image.new("RGB", (width // 2, height), BLUE), (width // 2, 0))
    return image


def exif_rotated_jpeg(path: Path) -> Path:
    """Stored 40 x 20 (red left, blue right), EXIF orientation 6: shown 20 x 40,
    red on top, as a phone camera held upright would have it."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(halves(), path, format="JPEG", quality=95, exif=exif.tobytes())


def transparent_palette_png(path: Path) -> Path:
    """A palette PNG whose every pixel is a fully transparent red."""
    image = Image.new("P", (16, 16), 0)
    image.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    return save(image, path, format="PNG", transparency=0)


def cmyk_jpeg(path: Path) -> Path:
    """Pure red in CMYK (no cyan, full magenta and yellow)."""
    return save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), path, format="JPEG", quality=95)


def grey16_png(path: Path, value: int = 32896) -> Path:
    """16-bit greyscale; 32896/65535 is 128/255, where clipping would give white."""
    return save(Image.fromarray(np.full((16, 16), value, np.uint16)), path, format="PNG")


def grey_alpha_png(path: Path) -> Path:
    """Greyscale with alpha: left half opaque black, right half transparent."""
    image = Image.new("LA", (16, 16), (0, 255))
    image.paste(Image.new("LA", (8, 16), (0, 0)), (8, 0))
    return save(image, path, format="PNG")


def animated_gif(path: Path) -> Path:
    """Three frames: white, black, black. The first frame is the picture."""
    frames = [Image.new("L", (16, 16), v) for v in (255, 0, 0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def truncated(path: Path, fmt: str = "JPEG") -> Path:
    """A real picture cut to half its bytes, as an interrupted copy leaves it."""
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format=fmt)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:len(data) // 2])
    return path


def huge_header_png(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header claims side x side pixels: a decompression bomb."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    # IHDR: length(4) type(4) width(4) height(4) ... CRC over type + data.
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def plain(path: Path, colour=(0, 128, 255), size=(24, 24), fmt: str | None = None) -> Path:
    return save(Image.new("RGB", size, colour), path, **({"format": fmt} if fmt else {}))


def grey(path: Path, value: int = 100, size=(24, 24)) -> Path:
    return save(Image.new("L", size, value), path)
