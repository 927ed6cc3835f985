"""The data doctor finds planted near-duplicates, tiny pictures, mixed shapes and
skipped files in a folder, changes nothing there, and `data` and `train` say so."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from engine.cli.main import main
from engine.data import doctor
from engine.data.doctor import enlargement, examine_now, fit_effect, shape_name


def photo(seed: int, width: int = 96, height: int = 96) -> Image.Image:
    """A smooth colour 'photograph': a random 6 x 6 colour field, enlarged."""
    field = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC)


@pytest.fixture
def folder(tmp_path):
    """10 distinct pictures, 3 planted copies (re-encoded, shrunk, brightened), a glyph
    in two colours, a tiny picture, wide and tall ones, and two unusable files."""
    root = tmp_path / "pictures"
    (root / "more").mkdir(parents=True)
    for i in range(10):
        photo(i).save(root / f"photo{i}.png")
    buffer = io.BytesIO()
    photo(0).save(buffer, "JPEG", quality=70)
    (root / "more" / "photo0-again.jpg").write_bytes(buffer.getvalue())
    photo(0).resize((70, 70)).save(root / "photo0-smaller.png")
    ImageEnhance.Brightness(photo(1)).enhance(1.08).save(root / "photo1-brighter.png")
    for name, (ink, paper) in {"glyph-red": ((220, 30, 30), (250, 250, 240)),
                               "glyph-blue": ((30, 30, 220), (20, 20, 20))}.items():
        glyph = Image.new("RGB", (64, 64), paper)
        glyph.paste(ink, (20, 10, 30, 54))
        glyph.save(root / f"{name}.png")
    photo(20, 16, 16).save(root / "tiny.png")
    photo(21, 160, 90).save(root / "wide.png")
    photo(22, 60, 120).save(root / "tall.png")
    (root / "notes.txt").write_text("not a picture")
    (root / "empty.png").write_bytes(b"")
    return root


def snapshot(root) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_doctor_finds_planted_duplicates_tiny_pictures_shapes_and_skips(folder):
    before = snapshot(folder)
    report = examine_now(f"folder:{folder}", 64)
    assert snapshot(folder) == before                       # nothing changed on disk
    assert report.pictures == 18 and report.found == 20
    names = [sorted(os.path.basename(p) for p in g.paths) for g in report.duplicates]
    assert names == [["photo0-again.jpg", "photo0-smaller.png", "photo0.png"],
                     ["photo1-brighter.png", "photo1.png"]]    # the glyphs are two pictures
    assert report.duplicate_pictures == 3
    assert [(os.path.basename(s.path), s.scale) for s in report.small] == [("tiny.png", 4.0)]
    shapes = {g.shape: len(g.pictures) for g in report.shapes}
    assert shapes == {"square": 16, "16:9 landscape": 1, "1:2 portrait": 1}
    assert {os.path.basename(s.path): s.reason for s in report.skipped} == {
        "notes.txt": "not a supported picture type (.txt)", "empty.png": "empty file (0 bytes)"}
    assert report.headline() == ("18 pictures; 2 skipped; 2 groups of near-duplicates (5 "
                                 "pictures); 1 much smaller than 64 px; mixed shapes (3)")
    text = "\n".join(report.lines())
    assert "photo0-again" in text and "tiny.png: 16 x 16, enlarged 4.0x" in text
    assert "16:9 landscape: 1 (centre crop keeps 56%, cutting the left and right)" in text
    assert "notes.txt: not a supported picture type" in text


def test_a_second_look_comes_from_the_cache_and_follows_the_size_and_fit(folder):
    first = examine_now(f"folder:{folder}", 64)
    again = examine_now(f"folder:{folder}?fit=pad", 32)
    assert not first.from_cache and again.from_cache and again.fit == "pad"
    assert again.duplicates == first.duplicates
    assert [os.path.basename(s.path) for s in again.small] == []    # 16 px at 32: 2x, not more
    wide = next(g for g in again.shapes if g.shape == "16:9 landscape")
    assert wide.fit == "padded: 44% of the square is background, above and below"
    (folder / "photo5.png").unlink()                                 # the folder changed
    assert not examine_now(f"folder:{folder}", 64).from_cache


def test_shapes_and_what_each_fit_does():
    assert shape_name(64, 64) == "square" and shape_name(640, 480) == "4:3 landscape"
    assert shape_name(1080, 1920) == "9:16 portrait" and shape_name(250, 100) == "2.5:1 landscape"
    assert fit_effect(200, 100, "crop") == "centre crop keeps 50%, cutting the left and right"
    assert fit_effect(100, 200, "pad") == "padded: 50% of the square is background, left and right"
    assert fit_effect(200, 100, "stretch") == "stretched: squeezed to 50% of its width"
    assert fit_effect(50, 50, "crop") == "used whole"
    assert enlargement(20, 40, 64, "crop") == 3.2 and enlargement(20, 40, 64, "pad") == 1.6


def test_only_folders_are_examined(data_spec):
    assert doctor.applies("folder:/somewhere") and not doctor.applies(data_spec)
    assert not doctor.applies("mnist") and not doctor.applies("nonsense:")
    with pytest.raises(Exception, match="not a folder"):
        examine_now("folder:/no/such/folder", 64)


def test_data_prints_the_doctor_and_its_json(folder, capsys):
    assert main(["data", f"folder:{folder}", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "data doctor (64 px, fit crop): 18 pictures; 2 skipped" in out
    assert out.count("notes.txt") == 1           # skipped files listed once, by the load
    assert main(["data", f"folder:{folder}", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["doctor"]["duplicates"]) == 2 and record["doctor"]["small"][0]["scale"] == 4.0
    assert {p["fit"] for g in record["doctor"]["shapes"] for p in g["pictures"]} >= {"used whole"}


def test_train_starts_with_the_doctors_line_and_names_the_skipped_files(folder, tmp_path, capsys):
    assert main(["train", "--data", f"folder:{folder}", "--image-size", "28", "--width", "8",
                 "--batch-size", "4", "--device", "cpu", "--steps", "1", "--no-preset",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("data doctor: "))
    assert "18 pictures; 2 skipped; 2 groups of near-duplicates" in line
    assert f"latent-atelier-cli data folder:{folder} --size 28" in line
    note = next(line for line in err.splitlines() if line.startswith("note: 2 of 20 file(s)"))
    assert "notes.txt: " in note and "empty.png: " in note
