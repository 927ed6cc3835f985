"""engine.data.decode: every awkward picture becomes (C, S, S) uint8, or a reason."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from engine.data.decode import (DecodeOptions, UnusableImage, decode_image, is_greyscale,
                                parse_background)
from tests.engine import messy_images as messy


def test_exif_orientation_is_applied(tmp_path):
    path = messy.exif_rotated_jpeg(tmp_path / "phone.jpg")
    with Image.open(path) as raw:
        assert raw.size == (40, 20)          # stored sideways
    out = decode_image(path, DecodeOptions(size=20, fit="stretch"))
    assert out.original_size == (20, 40)     # shown upright
    top, bottom = out.pixels[:, 2, 10], out.pixels[:, 17, 10]
    assert top[0] > 150 and top[2] < 100     # red on top
    assert bottom[2] > 150 and bottom[0] < 100


@pytest.mark.parametrize("background, expected", [("white", 255), ("black", 0)])
def test_transparent_palette_is_composited_on_the_background(tmp_path, background, expected):
    path = messy.transparent_palette_png(tmp_path / "palette.png")
    out = decode_image(path, DecodeOptions(size=8, background=parse_background(background)))
    assert out.pixels.shape == (3, 8, 8)
    assert (out.pixels == expected).all()    # the hidden red never shows


def test_cmyk_becomes_rgb(tmp_path):
    out = decode_image(messy.cmyk_jpeg(tmp_path / "print.jpg"), DecodeOptions(size=8))
    r, g, b = (int(c) for c in out.pixels[:, 4, 4])
    assert out.pixels.shape == (3, 8, 8)
    assert r > 200 and g < 60 and b < 60


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    out = decode_image(messy.grey16_png(tmp_path / "scan.png"), DecodeOptions(size=8))
    assert out.pixels.shape == (1, 8, 8)
    assert abs(int(out.pixels[0, 4, 4]) - 128) <= 1


def test_grey_with_alpha_is_composited_and_stays_grey(tmp_path):
    out = decode_image(messy.grey_alpha_png(tmp_path / "la.png"),
                       DecodeOptions(size=16, fit="stretch"))
    assert is_greyscale(out.pixels)
    assert out.pixels[0, 8, 2] == 0 and out.pixels[0, 8, 13] == 255


def test_gif_gives_its_first_frame(tmp_path):
    out = decode_image(messy.animated_gif(tmp_path / "anim.gif"), DecodeOptions(size=8))
    assert (out.pixels == 255).all()


@pytest.mark.parametrize("channels, shape", [(1, (1, 8, 8)), (3, (3, 8, 8))])
def test_channels_are_forced_when_asked(tmp_path, channels, shape):
    colour = decode_image(messy.plain(tmp_path / "c.png"), DecodeOptions(size=8, channels=channels))
    grey = decode_image(messy.grey(tmp_path / "g.png"), DecodeOptions(size=8, channels=channels))
    assert colour.pixels.shape == shape and grey.pixels.shape == shape


def test_resize_policies(tmp_path):
    path = messy.plain(tmp_path / "wide.png", colour=(0, 0, 0), size=(40, 20))
    pad = decode_image(path, DecodeOptions(size=20, fit="pad", background=(255, 255, 255)))
    crop = decode_image(path, DecodeOptions(size=20, fit="crop"))
    stretch = decode_image(path, DecodeOptions(size=20, fit="stretch"))
    assert pad.pixels[:, 0, 10].tolist() == [255, 255, 255]   # letterbox bars above and below
    assert pad.pixels[:, 10, 10].tolist() == [0, 0, 0]
    assert (crop.pixels == 0).all() and (stretch.pixels == 0).all()
    halves = messy.save(messy.halves(40, 20), tmp_path / "halves.png")
    cropped = decode_image(halves, DecodeOptions(size=20, fit="crop")).pixels
    assert cropped[0, 10, 2] > 150 and cropped[2, 10, 17] > 150   # the centre keeps both halves


@pytest.mark.parametrize("fmt, suffix", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"),
                                         ("BMP", "bmp"), ("TIFF", "tif"), ("GIF", "gif")])
def test_every_supported_format(tmp_path, fmt, suffix):
    out = decode_image(messy.plain(tmp_path / f"x.{suffix}", fmt=fmt), DecodeOptions(size=12))
    assert out.pixels.shape == (3, 12, 12) and out.pixels.dtype == np.uint8


def test_large_jpeg_is_decoded_at_reduced_scale_to_the_same_picture(tmp_path):
    path = messy.plain(tmp_path / "big.jpg", colour=(200, 50, 50), size=(1600, 1200), fmt="JPEG")
    out = decode_image(path, DecodeOptions(size=32))
    assert out.original_size == (1600, 1200)
    assert np.abs(out.pixels[:, 16, 16].astype(int) - [200, 50, 50]).max() < 8


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not a picture"), "not a picture"),
    (lambda p: messy.truncated(p, "JPEG"), "damaged or truncated"),
    (lambda p: messy.truncated(p, "PNG"), "damaged or truncated"),
    (lambda p: messy.huge_header_png(p), "decompression bomb"),
])
def test_bad_files_raise_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(UnusableImage, match=reason):
        decode_image(path, DecodeOptions(size=8))


def test_a_format_outside_the_list_is_refused_by_name(tmp_path):
    path = messy.plain(tmp_path / "icon.png", size=(16, 16), fmt="ICO")   # wrong extension too
    with pytest.raises(UnusableImage, match="unsupported format ICO"):
        decode_image(path, DecodeOptions(size=8))


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path):
    path = messy.plain(tmp_path / "big.png", size=(300, 300))
    with pytest.raises(UnusableImage, match="300 x 300 pixels is over the limit"):
        decode_image(path, DecodeOptions(size=8, max_pixels=200 * 200))


def test_file_size_limit(tmp_path):
    path = messy.plain(tmp_path / "x.png")
    with pytest.raises(UnusableImage, match="MB limit"):
        decode_image(path, DecodeOptions(size=8, max_file_bytes=10))


def test_missing_file(tmp_path):
    with pytest.raises(UnusableImage, match="cannot read"):
        decode_image(tmp_path / "gone.png", DecodeOptions())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    path = messy.plain(tmp_path / "locked.png")
    path.chmod(0)
    try:
        with pytest.raises(UnusableImage, match="permission denied"):
            decode_image(path, DecodeOptions())
    finally:
        path.chmod(0o644)


def test_background_parsing():
    assert parse_background("#102030") == (16, 32, 48)
    assert parse_background("Black") == (0, 0, 0)
    with pytest.raises(ValueError, match="not white, black"):
        parse_background("mauve")
