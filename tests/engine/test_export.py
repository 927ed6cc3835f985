"""engine.studio.export: PNG stills and animated GIFs, with provenance, written atomically."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine import __version__
from engine.errors import ConfigError, RunDirError
from engine.studio.export import save_gif, save_png
from engine.media.png import PROVENANCE_KEY, png_bytes, to_pil


def gray(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 1), dtype=np.uint8)


def test_save_png_round_trip_grayscale(tmp_path):
    image = gray()
    path = save_png(image, tmp_path / "a.png")
    assert path == tmp_path / "a.png"
    with Image.open(path) as png:
        assert png.mode == "L" and png.size == (7, 5)
        np.testing.assert_array_equal(np.asarray(png), image[:, :, 0])


def test_save_png_rgb(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    with Image.open(save_png(image, tmp_path / "c.png")) as png:
        assert png.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(png), image)


def test_save_png_scale_is_nearest_neighbour(tmp_path):
    image = gray()
    with Image.open(save_png(image, tmp_path / "big.png", scale=3)) as png:
        assert png.size == (21, 15)
        big = np.asarray(png)
    for y in range(5):
        for x in range(7):
            block = big[3 * y:3 * y + 3, 3 * x:3 * x + 3]
            assert (block == image[y, x, 0]).all()


def test_provenance_text_chunk(tmp_path):
    path = save_png(gray(), tmp_path / "p.png", provenance={"run": "r1", "seeds": [1, 2]})
    with Image.open(path) as png:
        info = json.loads(png.text[PROVENANCE_KEY])
    assert info == {"app_version": __version__, "run": "r1", "seeds": [1, 2]}


def test_provenance_defaults_to_app_version():
    import io
    with Image.open(io.BytesIO(png_bytes(gray()))) as png:
        assert json.loads(png.text[PROVENANCE_KEY]) == {"app_version": __version__}


@pytest.mark.parametrize("scale", [0, -2])
def test_bad_png_scale(tmp_path, scale):
    with pytest.raises(ConfigError, match="scale must be between 1 and 64"):
        save_png(gray(), tmp_path / "x.png", scale=scale)
    assert not (tmp_path / "x.png").exists()


def test_save_png_makes_missing_folders_and_leaves_no_temp_files(tmp_path):
    path = save_png(gray(), tmp_path / "deep" / "er" / "x.png")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]


def test_save_png_overwrites(tmp_path):
    save_png(gray(seed=1), tmp_path / "x.png")
    save_png(gray(seed=2), tmp_path / "x.png")
    with Image.open(tmp_path / "x.png") as png:
        np.testing.assert_array_equal(np.asarray(png), gray(seed=2)[:, :, 0])


def test_unwritable_target_is_a_run_dir_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="cannot write") as info:
        save_png(gray(), tmp_path / "file" / "x.png")
    assert "x.png" in str(info.value)


def test_to_pil_modes():
    assert to_pil(gray()).mode == "L"
    assert to_pil(np.zeros((2, 2, 3), np.uint8), scale=2).size == (4, 4)


# -- GIF -----------------------------------------------------------------------------
def frames(n=4, h=6, w=5, channels=1):
    # Distinct frames (Pillow merges identical neighbours into one longer frame).
    return [np.full((h, w, channels), 40 * i + 10, np.uint8) for i in range(n)]


def read_gif(path):
    with Image.open(path) as gif:
        info = {"n_frames": gif.n_frames, "is_animated": gif.is_animated, "size": gif.size,
                "loop": gif.info.get("loop"), "comment": gif.info.get("comment")}
        durations, pictures = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            pictures.append(np.asarray(gif.convert("L")))
    return info, durations, pictures


def test_gif_frames_duration_and_loop(tmp_path):
    path = save_gif(frames(4), tmp_path / "a.gif", fps=4)
    info, durations, pictures = read_gif(path)
    assert info["n_frames"] == 4 and info["is_animated"]
    assert durations == [250] * 4
    assert info["loop"] == 0
    assert [int(p[0, 0]) for p in pictures] == [10, 50, 90, 130]


def test_gif_loop_count_and_upscale(tmp_path):
    path = save_gif(frames(3), tmp_path / "b.gif", fps=10, scale=3, loop=2)
    info, durations, pictures = read_gif(path)
    assert info["size"] == (15, 18)
    assert info["loop"] == 2
    assert durations == [100] * 3
    assert (pictures[2] == 90).all()


def test_gif_top_frame_rate_is_what_browsers_play(tmp_path):
    _, durations, _ = read_gif(save_gif(frames(2), tmp_path / "c.gif", fps=50))
    assert durations == [20, 20]


def test_gif_rgb_frames(tmp_path):
    colour = [np.zeros((4, 4, 3), np.uint8) for _ in range(2)]
    colour[0][..., 0] = 255
    colour[1][..., 2] = 255
    path = save_gif(colour, tmp_path / "rgb.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 2
        gif.seek(1)
        assert gif.convert("RGB").getpixel((1, 1)) == (0, 0, 255)


def test_gif_carries_provenance(tmp_path):
    info, _, _ = read_gif(save_gif(frames(2), tmp_path / "p.gif", provenance={"kind": "timelapse"}))
    assert json.loads(info["comment"]) == {"app_version": __version__, "kind": "timelapse"}


@pytest.mark.parametrize("fps", [0, 0.05, 51, 100, -1, float("nan")])
def test_bad_fps(tmp_path, fps):
    with pytest.raises(ConfigError, match="frame rate must be between 0.1 and 50"):
        save_gif(frames(2), tmp_path / "x.gif", fps=fps)
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("scale", [0, 65])
def test_bad_gif_scale(tmp_path, scale):
    with pytest.raises(ConfigError, match="scale must be between 1 and 64"):
        save_gif(frames(2), tmp_path / "x.gif", scale=scale)


def test_no_frames(tmp_path):
    with pytest.raises(ConfigError, match="no frames"):
        save_gif([], tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_single_frame_gif(tmp_path):
    info, _, _ = read_gif(save_gif(frames(1), tmp_path / "one.gif"))
    assert info["n_frames"] == 1
