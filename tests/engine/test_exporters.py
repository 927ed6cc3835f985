"""engine.studio.exporters: every animation format, its options, provenance read back,
atomic writes and clear errors."""
from __future__ import annotations

import os
import sys
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from engine import __version__
from engine.errors import ConfigError, DataError, RunDirError
from engine.studio.exporters import (ExportOptions, estimate_size, export_animation, format_for_path,
                              human_size)
from engine.studio.exporters.provenance import read_provenance, read_timeline
from engine.studio.keyframes import Timeline

FILE_FORMATS = [("gif", "a.gif"), ("apng", "a.png"), ("webp", "a.webp"), ("sheet", "sheet.png")]


def grey_frames(n=6, h=10, w=12):
    # Distinct, smooth frames (identical neighbours would be merged by the writers).
    y, x = np.mgrid[0:h, 0:w]
    return [((x * 9 + y * 5 + 23 * i) % 256).astype(np.uint8)[:, :, None] for i in range(n)]


def colour_frames(n=6, h=24, w=24):
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = []
    for i in range(n):
        phase = i / n
        rgb = np.stack([np.sin(6 * x + phase), np.cos(5 * y - phase), np.sin(4 * (x + y) + 2 * phase)], -1)
        out.append(((rgb + 1) * 127.5).round().astype(np.uint8))
    return out


def read_animation(path):
    """(frames as uint8 arrays, Pillow info of frame 0) of an animated image file."""
    with Image.open(path) as picture:
        info = dict(picture.info)
        frames, durations = [], []
        for i in range(getattr(picture, "n_frames", 1)):
            picture.seek(i)
            frames.append(np.asarray(picture.convert("RGB")))
            durations.append(picture.info.get("duration"))
    info["durations"] = durations
    return frames, info


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


PROVENANCE = {"kind": "interpolate", "model": "dcgan", "run": "r1", "step": 40, "seeds": [1, 7, 42],
              "timeline": Timeline.from_seeds([1, 7, 42], frames_between=1).to_dict()}


@pytest.mark.parametrize("fmt, name", FILE_FORMATS[:3])
def test_animated_formats_frames_size_loop_and_metadata(tmp_path, fmt, name):
    frames = grey_frames(5)
    path = export_animation(frames, tmp_path / name, fmt, ExportOptions(fps=20, scale=3), PROVENANCE)
    decoded, info = read_animation(path)
    assert len(decoded) == 5
    assert decoded[0].shape == (30, 36, 3)
    assert info.get("loop") == 0
    assert info["durations"] == [50] * 5
    for original, back in zip(frames, decoded):   # greyscale: every format is exact
        np.testing.assert_array_equal(back[::3, ::3, 0], original[:, :, 0])
    provenance = read_provenance(path)
    assert provenance["app_version"] == __version__ and provenance["seeds"] == [1, 7, 42]
    assert provenance["format"] == fmt and provenance["step"] == 40
    timeline, _ = read_timeline(path)
    assert timeline == Timeline.from_seeds([1, 7, 42], frames_between=1)


@pytest.mark.parametrize("fmt, name", FILE_FORMATS[:3])
def test_play_count(tmp_path, fmt, name):
    path = export_animation(grey_frames(3), tmp_path / name, fmt, ExportOptions(plays=3))
    _, info = read_animation(path)
    # GIF stores repeats after the first play; APNG and WebP store plays.
    assert info.get("loop") == (2 if fmt == "gif" else 3)


def test_gif_played_once_has_no_loop_block(tmp_path):
    _, info = read_animation(export_animation(grey_frames(3), tmp_path / "once.gif", "gif",
                                              ExportOptions(plays=1)))
    assert "loop" not in info


@pytest.mark.parametrize("palette", ["per-frame", "global"])
def test_gif_colour_fidelity_with_dithering(tmp_path, palette):
    frames = colour_frames()
    path = export_animation(frames, tmp_path / "c.gif", "gif", ExportOptions(palette=palette, dither=True))
    decoded, _ = read_animation(path)
    assert len(decoded) == len(frames)
    assert np.mean([psnr(a, b) for a, b in zip(frames, decoded)]) > 25


def test_lossless_formats_keep_colour_exactly(tmp_path):
    frames = colour_frames(4)
    for fmt, name in FILE_FORMATS[1:3]:
        decoded, _ = read_animation(export_animation(frames, tmp_path / name, fmt))
        for a, b in zip(frames, decoded):
            np.testing.assert_array_equal(a, b)


def test_sprite_sheet_layout(tmp_path):
    frames = grey_frames(5)
    path = export_animation(frames, tmp_path / "s.png", "sheet", ExportOptions(scale=2, columns=2))
    with Image.open(path) as sheet:
        assert sheet.size == (2 * 24, 3 * 20)
        pixels = np.asarray(sheet)
    np.testing.assert_array_equal(pixels[40:60:2, 0:24:2], frames[4][:, :, 0])  # row 2, column 0
    layout = read_provenance(path)["sheet"]
    assert layout == {"frame_width": 24, "frame_height": 20, "columns": 2, "frames": 5, "fps": 24.0}


def test_frame_sequence(tmp_path):
    frames = grey_frames(4)
    folder = export_animation(frames, tmp_path / "seq", "frames", ExportOptions(), PROVENANCE)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(4)]
    with Image.open(folder / "frame_00002.png") as png:
        np.testing.assert_array_equal(np.asarray(png), frames[2][:, :, 0])
    assert read_provenance(folder)["frames"] == 4
    assert read_timeline(folder)[0].seeds == [1, 7, 42]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_frame_sequence_replaces_an_earlier_one_but_not_other_files(tmp_path):
    export_animation(grey_frames(5), tmp_path / "seq", "frames")
    export_animation(grey_frames(2), tmp_path / "seq", "frames")
    assert len(list((tmp_path / "seq").iterdir())) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RunDirError, match="holds other files"):
        export_animation(grey_frames(2), tmp_path / "mine", "frames")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "seq"]


def test_mp4(tmp_path):
    av = pytest.importorskip("av")
    frames = colour_frames(12, 15, 15)
    path = export_animation(frames, tmp_path / "v.mp4", "mp4",
                            ExportOptions(fps=12, scale=2, crf=10), PROVENANCE)
    assert path.read_bytes()[4:8] == b"ftyp"
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")    # faststart: the index comes first
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 12
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 12
    assert decoded[0].shape == (30, 30, 3)              # 15 x 15 at scale 2 is already even
    source = np.repeat(np.repeat(frames[0], 2, axis=0), 2, axis=1).astype(int)
    assert np.abs(decoded[0].astype(int) - source).mean() < 6   # yuv420p halves colour resolution
    assert read_provenance(path)["seeds"] == [1, 7, 42]
    assert read_timeline(path)[0].seeds == [1, 7, 42]
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_mp4_odd_sides_are_padded_even(tmp_path):
    av = pytest.importorskip("av")
    path = export_animation(grey_frames(3, 7, 9), tmp_path / "odd.mp4", "mp4", ExportOptions(fps=7.5))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (10, 8)
        assert stream.average_rate == Fraction(15, 2)
        assert sum(1 for _ in container.decode(stream)) == 3


def test_mp4_without_av_is_a_clear_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)   # makes `import av` fail
    with pytest.raises(ConfigError, match=r"MP4 export is unavailable: video needs the av package \(pip install av\); GIF, APNG"):
        export_animation(grey_frames(2), tmp_path / "v.mp4", "mp4")
    assert list(tmp_path.iterdir()) == []


def test_mp4_encoder_error_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("av")
    monkeypatch.setattr("engine.studio.exporters.mp4.even_frames",
                        lambda frames, scale: iter(np.zeros((2, 8, 8, 3), np.uint8)[:, :, :, :2]))
    with pytest.raises(RunDirError, match=r"cannot write .*v.mp4: the H.264 encoder failed \(") as info:
        export_animation(grey_frames(2), tmp_path / "v.mp4", "mp4")
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_export_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    target = tmp_path / "keep.gif"
    export_animation(grey_frames(3), target, "gif")
    before = target.read_bytes()

    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.storage.atomic.os.fsync", broken)
    with pytest.raises(RunDirError, match="No space left on device"):
        export_animation(grey_frames(4), target, "gif")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.gif"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(RunDirError, match="cannot write .*a.webp"):
            export_animation(grey_frames(2), folder / "a.webp", "webp")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("fmt", ["gif", "apng", "webp", "sheet", "frames"])
def test_size_estimate_is_near_the_real_size(tmp_path, fmt):
    frames = [f for f in grey_frames(40, 32, 32)]
    options = ExportOptions(scale=2)
    estimate = estimate_size(frames, fmt, options)
    path = export_animation(frames, tmp_path / f"x.{fmt}", fmt, options)
    real = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
    assert 0.5 * real <= estimate <= 2 * real


@pytest.mark.parametrize("options, message", [
    (ExportOptions(fps=0), "frame rate must be between 0.1 and 50"),
    (ExportOptions(fps=float("nan")), "frame rate"),
    (ExportOptions(scale=0), "scale must be between 1 and 64"),
    (ExportOptions(plays=-1), "plays must be 0"),
    (ExportOptions(palette="adaptive"), "palette must be one of"),
    (ExportOptions(crf=60), "crf must be between 0 and 51"),
])
def test_bad_options(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        export_animation(grey_frames(2), tmp_path / "x.gif", "gif", options)
    assert not (tmp_path / "x.gif").exists()


def test_bad_frames_and_formats(tmp_path):
    with pytest.raises(ConfigError, match="no frames"):
        export_animation([], tmp_path / "x.gif", "gif")
    with pytest.raises(ConfigError, match="differ in size"):
        export_animation([np.zeros((4, 4, 1), np.uint8), np.zeros((5, 4, 1), np.uint8)],
                         tmp_path / "x.gif", "gif")
    with pytest.raises(ConfigError, match="unknown format 'avi'"):
        export_animation(grey_frames(2), tmp_path / "x.avi", "avi")


def test_format_for_path():
    assert [format_for_path(p) for p in ("a.GIF", "b.png", "c.webp", "d.mp4", "frames")] == \
        ["gif", "apng", "webp", "mp4", "frames"]
    with pytest.raises(ConfigError, match="cannot tell the format"):
        format_for_path("x.avi")


def test_human_size():
    assert human_size(500) == "500 bytes"
    assert human_size(2048) == "2.0 KB"
    assert human_size(3 * 1024 ** 2) == "3.0 MB"


def test_reading_files_without_provenance(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "plain.png")
    (tmp_path / "junk.gif").write_bytes(b"GIF89a broken")
    with pytest.raises(DataError, match="carries no Latent Atelier metadata"):
        read_provenance(tmp_path / "plain.png")
    with pytest.raises(DataError, match="not a readable image"):
        read_provenance(tmp_path / "junk.gif")
    with pytest.raises(DataError, match="no such file"):
        read_provenance(tmp_path / "missing.gif")


def test_a_saved_tile_opens_as_keyframes(tmp_path):
    from engine.studio.export import save_png
    path = save_png(grey_frames(1)[0], tmp_path / "tile.png", provenance={"run": "r", "seed": 12})
    timeline, info = read_timeline(path)
    assert timeline.seeds == [12, 12] and info["run"] == "r"


def test_a_timelapse_has_no_keyframes(tmp_path):
    path = export_animation(grey_frames(2), tmp_path / "t.gif", "gif", provenance={"kind": "timelapse"})
    with pytest.raises(DataError, match="training time-lapse"):
        read_timeline(path)


def test_reading_an_mp4_without_av_says_reading_not_export(tmp_path, monkeypatch):
    from engine.studio.exporters.provenance import read_provenance

    video = tmp_path / "walk.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom")
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ConfigError, match=r"^Reading MP4 files is unavailable: .*; open the GIF"):
        read_provenance(video)


# -- memory (issue 22, item 9) ------------------------------------------------------------
def test_export_memory_grows_with_frames_and_scale():
    from engine.studio.exporters.memory import export_memory

    def needs(fmt, frames, scale, shape=(28, 28, 1)):
        return export_memory(frames, shape, fmt, ExportOptions(scale=scale)).total_bytes

    for fmt in ("gif", "apng", "webp", "mp4", "frames", "sheet"):
        assert needs(fmt, 100, 1) < needs(fmt, 19_020, 1) and needs(fmt, 100, 1) < needs(fmt, 100, 8)
    # The issue's walk: 19,020 frames of 28 x 28 at scale 64 hold all frames for
    # a GIF (over 50 GB), but only a few of them for an MP4 or a frame folder.
    assert needs("gif", 19_020, 64) > 50 * 2**30 and needs("sheet", 19_020, 64) > 50 * 2**30
    assert needs("mp4", 19_020, 64) < 2 * 2**30 and needs("frames", 19_020, 64) < 2**30
    # Colour frames cost PIL 4 bytes a pixel where it keeps them.
    assert needs("apng", 100, 4, (28, 28, 3)) > 3 * needs("apng", 100, 4)


def test_over_the_memory_share_is_refused_with_the_estimate(monkeypatch):
    from engine.studio.exporters.memory import check_export_memory, export_memory

    estimate = export_memory(19_020, (28, 28, 1), "gif", ExportOptions(scale=64))
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 8 * 2**30)
    with pytest.raises(ConfigError) as info:
        check_export_memory(estimate)
    message = str(info.value)
    assert "\n" not in message and "as gif" in message and "more than 50% of the 8.0 GB available" in message
    assert "--scale or --frames-between" in message and "--format" in message
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 1024 * 2**30)
    check_export_memory(estimate)   # fits in half of 1 TB
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: None)
    check_export_memory(estimate)   # unknown: not refused


class _Alive:
    """Counts how many of the pictures (or arrays) a function makes are alive at once."""

    def __init__(self, make):
        self.make, self.refs, self.most, self.made = make, [], 0, 0

    def __call__(self, *args, **kwargs):
        import gc
        import weakref
        gc.collect(0)
        picture = self.make(*args, **kwargs)
        self.made += 1
        self.refs = [r for r in self.refs if r() is not None] + [weakref.ref(picture)]
        self.most = max(self.most, len(self.refs))
        return picture


@pytest.mark.parametrize("fmt, name, module", [("gif", "a.gif", "gif"), ("apng", "a.png", "apng")])
def test_animated_writers_do_not_hold_every_enlarged_frame(tmp_path, monkeypatch, fmt, name, module):
    import importlib
    mod = importlib.import_module(f"engine.studio.exporters.{module}")
    counter = _Alive(mod.to_pil)
    monkeypatch.setattr(mod, "to_pil", counter)
    frames = grey_frames(120)
    path = export_animation(frames, tmp_path / name, fmt, ExportOptions(scale=3))
    assert counter.made >= 120 and counter.most <= 3   # was all 120 at once
    decoded, _ = read_animation(path)
    assert len(decoded) == 120 and decoded[0].shape[:2] == (30, 36)


def test_webp_holds_no_list_of_enlarged_pictures(tmp_path, monkeypatch):
    import gc

    import engine.studio.exporters.webp as webp
    seen = []

    def counting(frame, scale=1):
        if len(seen) % 20 == 19:   # every pixel-sized picture alive now, made here or by Pillow
            seen.append(sum(1 for o in gc.get_objects()
                            if type(o) is Image.Image and o.size == (36, 30)))
        else:
            seen.append(0)
        return original(frame, scale)

    original = webp.to_pil
    monkeypatch.setattr(webp, "to_pil", counting)
    path = export_animation(grey_frames(120), tmp_path / "a.webp", "webp", ExportOptions(scale=3))
    assert len(seen) >= 120 and max(seen) <= 4   # was every frame converted to RGB, in a list
    assert len(read_animation(path)[0]) == 120


def test_colour_gif_with_a_global_palette_streams_too(tmp_path, monkeypatch):
    import engine.studio.exporters.gif as gif
    counter = _Alive(gif.to_pil)
    monkeypatch.setattr(gif, "to_pil", counter)
    path = export_animation(colour_frames(60), tmp_path / "c.gif", "gif",
                            ExportOptions(scale=2, palette="global"))
    assert counter.most <= 3
    assert len(read_animation(path)[0]) == 60


def test_mp4_enlarges_one_frame_at_a_time(tmp_path, monkeypatch):
    pytest.importorskip("av")
    import engine.studio.exporters.mp4 as mp4

    # ndarray views keep their base alive, so count the enlarged bases.
    counter = _Alive(mp4.upscale_nearest)
    monkeypatch.setattr(mp4, "upscale_nearest", counter)
    export_animation(grey_frames(80), tmp_path / "v.mp4", "mp4", ExportOptions(scale=2))
    assert counter.made == 80 and counter.most <= 3   # the whole clip was stacked at once


def test_out_of_memory_while_writing_names_the_format_not_the_batch_size(tmp_path, monkeypatch):
    def exhausted(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr("engine.studio.exporters.sequence.make_grid", exhausted)
    with pytest.raises(ConfigError) as info:
        export_animation(grey_frames(4), tmp_path / "s.png", "sheet", ExportOptions(scale=2))
    message = str(info.value)
    assert message.startswith("out of memory writing s.png: the export needs about")
    assert "as sheet" in message and "lower the scale" in message and "batch size" not in message
    assert list(tmp_path.iterdir()) == []
