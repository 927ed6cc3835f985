"""folder:PATH: a messy folder loads what is usable and says what it skipped, and why."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import LoadCancelled, LoadProgress, load_data, load_steps
from engine.errors import DataError
from tests.engine import messy_images as messy


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    root = tmp_path / "my pictures ünïcode"
    messy.exif_rotated_jpeg(root / "phone.jpg")
    messy.transparent_palette_png(root / "sticker.png")
    messy.cmyk_jpeg(root / "print.jpg")
    messy.grey16_png(root / "scan.png")
    messy.animated_gif(root / "nested" / "deeper" / "anim.gif")
    messy.plain(root / "nested" / "photo.webp", fmt="WEBP")
    messy.plain(root / "shot.TIFF", fmt="TIFF")
    messy.plain(root / "old.bmp", fmt="BMP")
    (root / "empty.png").write_bytes(b"")
    (root / "fake.png").write_text("hello")
    messy.truncated(root / "cut.jpg")
    messy.huge_header_png(root / "bomb.png")
    (root / "notes.txt").write_text("not a picture")
    (root / ".DS_Store").write_bytes(b"\0\0")
    return root


EXPECTED_GOOD = 8
EXPECTED_SKIPS = {"empty.png": "empty file", "fake.png": "not a picture",
                  "cut.jpg": "damaged or truncated", "bomb.png": "decompression bomb",
                  "notes.txt": "not a supported picture type"}


def test_messy_folder_loads_what_is_usable_and_lists_each_skip(messy_folder):
    data = load_data(f"folder:{messy_folder}", size=16, cache=False)
    assert data.images.shape == (EXPECTED_GOOD, 3, 16, 16) and data.images.dtype == np.uint8
    assert data.labels is None
    report = data.report
    assert report.found == EXPECTED_GOOD + len(EXPECTED_SKIPS)
    assert report.loaded == EXPECTED_GOOD
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == set(EXPECTED_SKIPS)       # hidden files are not even listed
    for name, reason in EXPECTED_SKIPS.items():
        assert reason in reasons[name], (name, reasons[name])
    assert all(str(messy_folder) in s.path for s in report.skipped)


def test_files_load_in_sorted_order_recursively(tmp_path):
    root = tmp_path / "order"
    for i, name in enumerate(["b.png", "a.png", "sub/c.png"]):
        messy.grey(root / name, value=10 * (i + 1))
    data = load_data(f"folder:{root}", size=8, cache=False)
    assert data.images[:, 0, 4, 4].tolist() == [20, 10, 30]   # a, b, sub/c


def test_all_grey_folder_has_one_channel_and_forcing_three_works(tmp_path):
    root = tmp_path / "grey"
    messy.grey(root / "1.png", 50)
    messy.plain(root / "2.png", colour=(90, 90, 90))      # RGB file, grey content
    assert load_data(f"folder:{root}", size=8, cache=False).channels == 1
    assert load_data(f"folder:{root}?channels=3", size=8, cache=False).channels == 3


def test_one_colour_picture_makes_the_set_rgb(tmp_path):
    root = tmp_path / "mixed"
    messy.grey(root / "1.png", 50)
    messy.plain(root / "2.png", colour=(200, 0, 0))
    data = load_data(f"folder:{root}", size=8, cache=False)
    assert data.channels == 3
    assert data.images[0, :, 4, 4].tolist() == [50, 50, 50]


def test_labels_from_subfolders(tmp_path):
    root = tmp_path / "classes"
    for cls, n in (("cats", 2), ("dogs", 3)):
        for i in range(n):
            messy.plain(root / cls / f"{i}.png")
    messy.plain(root / "stray.png")
    data = load_data(f"folder:{root}?labels=subfolders", size=8, cache=False)
    assert data.class_names == ("cats", "dogs") and data.num_classes == 2
    assert data.labels.tolist() == [0, 0, 1, 1, 1]
    assert [Path(s.path).name for s in data.report.skipped] == ["stray.png"]
    assert "class sub-folder" in data.report.skipped[0].reason


def test_options_are_checked(tmp_path):
    root = tmp_path / "one"
    messy.plain(root / "x.png")
    with pytest.raises(DataError, match="unknown option 'colour'"):
        load_data(f"folder:{root}?colour=red")
    with pytest.raises(DataError, match="fit must be one of crop, pad, stretch"):
        load_data(f"folder:{root}?fit=zoom")
    with pytest.raises(DataError, match="channels must be 1, 3 or auto"):
        load_data(f"folder:{root}?channels=4")
    with pytest.raises(DataError, match="labels must be subfolders or none"):
        load_data(f"folder:{root}?labels=yes")


def test_a_folder_with_one_picture(tmp_path):
    messy.plain(tmp_path / "solo" / "x.jpg", fmt="JPEG")
    assert len(load_data(f"folder:{tmp_path / 'solo'}", cache=False)) == 1


def test_empty_folder_says_no_images_found(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no images found in .*empty.*1 other file"):
        load_data(f"folder:{tmp_path / 'empty'}")


def test_folder_of_only_broken_files_names_the_first_reason(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match="no usable images .* 1 file\\(s\\) skipped .*empty file"):
        load_data(f"folder:{root}", cache=False)


def test_not_a_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_data(f"folder:{tmp_path / 'missing'}")


def test_folder_has_no_test_split(tmp_path):
    messy.plain(tmp_path / "x" / "a.png")
    with pytest.raises(DataError, match="no separate test split"):
        load_data(f"folder:{tmp_path / 'x'}", split="test")


def test_progress_is_reported_and_ends_complete(tmp_path):
    root = tmp_path / "many"
    for i in range(12):
        messy.grey(root / f"{i:02d}.png", i)
    events = []
    data = load_data(f"folder:{root}", size=8, cache=False, progress=events.append)
    assert len(data) == 12
    assert all(isinstance(e, LoadProgress) for e in events)
    assert events[-1].done == events[-1].total == 12


def test_cancel_stops_the_load(tmp_path):
    root = tmp_path / "cancel"
    for i in range(40):
        messy.grey(root / f"{i:02d}.png", i)
    steps = load_steps(f"folder:{root}", size=8, cache=False, cancel=lambda: True)
    with pytest.raises(LoadCancelled, match="cancelled"):
        for _ in steps:
            pass


def test_second_load_comes_from_the_cache_and_is_identical(tmp_path, atelier_home):
    root = tmp_path / "cached"
    for i in range(5):
        messy.plain(root / f"{i}.png", colour=(i * 40, 0, 0))
    (root / "bad.png").write_bytes(b"")
    first = load_data(f"folder:{root}", size=8)
    second = load_data(f"folder:{root}", size=8)
    assert not first.report.from_cache and second.report.from_cache
    np.testing.assert_array_equal(first.images, second.images)
    assert second.report.skipped == first.report.skipped
    assert list((atelier_home / "cache" / "data").glob("*.npz"))
    # Another size, or a changed file, is a different entry.
    assert not load_data(f"folder:{root}", size=12).report.from_cache
    messy.plain(root / "0.png", colour=(7, 7, 7), size=(30, 30))
    changed = load_data(f"folder:{root}", size=8)
    assert not changed.report.from_cache and changed.images[0, 0, 4, 4] == 7


def test_a_damaged_cache_entry_is_rebuilt(tmp_path, atelier_home):
    root = tmp_path / "c2"
    messy.plain(root / "a.png")
    load_data(f"folder:{root}", size=8)
    for entry in (atelier_home / "cache" / "data").glob("*.npz"):
        entry.write_bytes(b"garbage")
    again = load_data(f"folder:{root}", size=8)
    assert not again.report.from_cache and len(again) == 1
