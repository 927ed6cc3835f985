"""engine.data.sequences: moving-mnist and frames:PATH (GIF, frame folder, video)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from engine.data import DATA_SOURCES, load_data
from engine.data.sequences import animation_windows, moving_mnist, read_animation
from engine.errors import DataError


def square_frames(count: int = 6, side: int = 16) -> list[np.ndarray]:
    """A 4x4 white square moving down one pixel a frame."""
    frames = []
    for t in range(count):
        a = np.zeros((side, side), np.uint8)
        a[1 + t:5 + t, 3:7] = 255
        frames.append(a)
    return frames


def write_gif(path, frames) -> str:
    pictures = [Image.fromarray(f) for f in frames]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return str(path)


def digits(n: int = 5) -> np.ndarray:
    d = np.zeros((n, 28, 28), np.uint8)
    d[:, 8:20, 10:18] = 200
    return d


def test_moving_mnist_shape_seed_and_motion():
    a = moving_mnist(digits(), count=3, seed=7)
    assert a.shape == (3, 20, 1, 64, 64) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, moving_mnist(digits(), count=3, seed=7))
    assert not np.array_equal(a, moving_mnist(digits(), count=3, seed=8))
    # Digits stay whole inside the frame while moving: same ink every frame
    # unless two overlap (max only ever loses ink), and frames differ.
    ink = (a > 0).reshape(3, 20, -1).sum(-1)
    assert (ink <= 2 * 12 * 8).all() and (ink >= 12 * 8).all()
    assert not np.array_equal(a[:, 0], a[:, 5])


def test_moving_mnist_bounces_inside_the_frame():
    one = moving_mnist(digits(1), count=1, seed=3, frames=200, per_sequence=1)
    assert ((one > 0).reshape(200, -1).sum(-1) == 12 * 8).all()   # never clipped by an edge


def test_moving_mnist_spec_uses_bundled_mnist():
    data = load_data("moving-mnist", "test")
    assert data.images.shape == (1000, 20, 1, 64, 64) and data.frames == 20
    assert data.labels is None and data.size == 64 and data.channels == 1
    assert "moving-mnist" in DATA_SOURCES and "frames:PATH" in DATA_SOURCES


def test_gif_frames_and_windows(tmp_path):
    frames = square_frames(6)
    data = load_data(f"frames:{write_gif(tmp_path / 'a b é.gif', frames)}")
    # 6 frames -> windows of 5 (at least two sequences to train on).
    assert data.images.shape == (2, 5, 1, 16, 16)
    np.testing.assert_array_equal(data.images[1, :, 0], np.stack(frames[1:]))


def test_numbered_folder_in_natural_order(tmp_path):
    frames = square_frames(4)
    for i, f in enumerate(frames):   # frame_10 would sort before frame_2 as text
        Image.fromarray(f).save(tmp_path / f"frame_{[2, 10, 11, 30][i]}.png")
    got = read_animation(tmp_path)
    np.testing.assert_array_equal(got[:, 0], np.stack(frames))


def test_colour_and_non_square_frames(tmp_path):
    pictures = [Image.new("RGB", (30, 20), (255, 0, 0)), Image.new("RGB", (30, 20), (0, 0, 255)),
                Image.new("RGB", (30, 20), (0, 255, 0))]
    pictures[0].save(tmp_path / "c.gif", save_all=True, append_images=pictures[1:])
    got = read_animation(tmp_path / "c.gif")
    assert got.shape == (3, 3, 20, 20)   # centre-cropped square, RGB
    assert got[1, 2].mean() > 200 and got[1, 0].mean() < 50


def test_windows_need_three_frames():
    with pytest.raises(DataError, match="at least 3 frames"):
        animation_windows(np.zeros((2, 1, 4, 4), np.uint8))
    assert animation_windows(np.zeros((30, 1, 4, 4), np.uint8)).shape == (11, 20, 1, 4, 4)


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.gif", "no such file"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no numbered frames"),
    (lambda p: (p / "junk.gif").write_bytes(b"not a gif") and p / "junk.gif", "not a readable animation"),
])
def test_bad_animations_fail_clearly(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_data(f"frames:{make(tmp_path)}")


def write_video(path, frames, fps: int = 10) -> None:
    """An H.264 MP4 of the greyscale frames, written with PyAV (yuv444p keeps colour exact enough)."""
    av = pytest.importorskip("av")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": "0"}
        for f in frames:
            rgb = np.repeat(f[:, :, None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


def test_video_through_pyav(tmp_path):
    path = tmp_path / "clip.mp4"
    frames = square_frames(5)
    write_video(path, frames)
    got = read_animation(path)
    assert got.shape[0] == 5 and got.shape[2:] == (16, 16)   # grey frames may come back as 1 channel
    # Lossless H.264, so only the RGB<->YUV rounding separates them.
    for decoded, source in zip(got, frames):
        assert np.abs(decoded[0].astype(int) - source.astype(int)).max() <= 3


def test_unreadable_video_fails_clearly(tmp_path):
    pytest.importorskip("av")
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"not a video at all")
    with pytest.raises(DataError, match="junk.mp4: not a readable video"):
        load_data(f"frames:{path}")


def test_video_without_av_says_which_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)   # makes `import av` fail
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"anything")
    with pytest.raises(DataError, match=r"clip.mp4: reading video is unavailable: video needs the av package \(pip install av\); export its frames"):
        read_animation(path)
