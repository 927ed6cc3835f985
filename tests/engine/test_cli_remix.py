"""`latent-atelier-cli remix` and `animate --kind flipbook`: files, provenance,
--json, estimates and one-line refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli.main import EXIT_ERROR, EXIT_USAGE, main
from engine.studio.exporters.provenance import read_provenance

FAST = ["--iterations", "3"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:   # argparse exits on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


@pytest.fixture
def picture(tmp_path):
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:40, 0:48]
    pixels = np.full((40, 48, 3), 80, np.uint8)
    for _ in range(12):
        cy, cx, r = rng.uniform(0, 40), rng.uniform(0, 48), rng.uniform(2, 7)
        pixels[((ys - cy) ** 2 + (xs - cx) ** 2) < r * r] = rng.integers(0, 256, 3)
    path = tmp_path / "pebbles.png"
    Image.fromarray(pixels).save(path)
    return path


def test_the_issue_command_writes_a_grid_with_provenance(picture, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli("remix", picture, "--n", 4, "--size", "64x40", "--tile", "--seed", 7, *FAST,
               "--out", out) == 0
    assert "wrote 1 file(s) of 4 picture(s) from pebbles.png at 64 x 40, tiling" in capsys.readouterr().out
    info = read_provenance(out)
    assert info["seeds"] == [7, 8, 9, 10] and info["tile"] is True and info["size"] == [64, 40]
    assert info["kind"] == "remix" and len(info["source_sha256"]) == 64
    with Image.open(out) as grid:
        assert grid.size == (2 * 64 + 6, 2 * 40 + 6)


def test_a_folder_gets_one_png_per_seed_and_json_says_what(picture, tmp_path, capsys):
    out = tmp_path / "remixes"
    assert cli("remix", picture, "--n", 2, "--diversity", 1.0, *FAST, "--out", f"{out}/",
               "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert [p.rsplit("/", 1)[1] for p in result["files"]] == ["seed_000000.png", "seed_000001.png"]
    assert result["size"] == [48, 40] and len(result["moved_share"]) == 2
    info = read_provenance(result["files"][1])
    assert info["seed"] == 1 and info["gpnn"]["diversity"] == 1.0
    with Image.open(result["files"][0]) as first:
        assert first.size == (48, 40)


def test_the_same_seed_gives_the_same_file(picture, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert cli("remix", picture, "--n", 1, "--seed", 3, *FAST, "--out", a) == 0
    assert cli("remix", picture, "--n", 1, "--seed", 3, *FAST, "--out", b) == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_estimate_prints_time_and_memory_and_makes_nothing(picture, tmp_path, capsys):
    assert cli("remix", picture, "--size", "1200x1200", "--estimate", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["within_limits"] is False and record["bytes_per_picture"] > 2**31
    assert [p.name for p in tmp_path.iterdir()] == ["pebbles.png"]


def test_a_huge_size_is_one_line_with_the_estimate(picture, tmp_path, capsys):
    assert cli("remix", picture, "--size", "1200x1200", "--out", tmp_path / "x.png") == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: 1200 x 1200 would take") and "--allow-slow" in err
    assert err.count("\n") == 1 and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args, code, message", [
    (["--size", "big"], EXIT_USAGE, "WIDTHxHEIGHT"),
    (["--patch-size", "6"], EXIT_ERROR, "patch size must be odd"),
    (["--n", "0"], EXIT_ERROR, "--n must be"),
    ([], EXIT_ERROR, "needs --out"),
])
def test_bad_flags_are_refused(picture, capsys, args, code, message):
    assert cli("remix", picture, *args) == code
    assert message in capsys.readouterr().err


def test_a_file_that_is_no_picture_is_named(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("hello")
    assert cli("remix", bad, "--out", tmp_path / "x.png") == EXIT_ERROR
    assert "notes.png: not a picture" in capsys.readouterr().err


def test_flipbook_exports_an_animation_with_its_record(picture, tmp_path, capsys):
    out = tmp_path / "book.gif"
    assert cli("animate", "--kind", "flipbook", "--input", picture, "--frames", 3,
               "--flip-mode", "walk", "--crossfade", 1, "--scale", 1, *FAST, "--out", out,
               "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 6 and result["format"] == "gif" and result["flicker"] >= 0
    info = read_provenance(out)
    assert info["kind"] == "flipbook" and info["flipbook"]["mode"] == "walk"
    with Image.open(out) as gif:
        assert gif.size == (48, 40) and gif.n_frames >= 2
    assert cli("keyframes", out) == 0
    assert "flipbook of the picture pebbles.png" in capsys.readouterr().out


def test_flipbook_refuses_a_run_and_other_kinds_need_one(picture, tmp_path, capsys):
    assert cli("animate", tmp_path, "--kind", "flipbook", "--input", picture,
               "--out", tmp_path / "b.gif") == EXIT_ERROR
    assert "not from a run" in capsys.readouterr().err
    assert cli("animate", "--kind", "timelapse", "--out", tmp_path / "t.gif") == EXIT_ERROR
    assert "needs a run folder" in capsys.readouterr().err
