"""`latent-atelier-cli animate` (walks, time-lapse, every format) and `keyframes`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import EXIT_ERROR, EXIT_USAGE, main


def cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits on usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


def frames_of(path):
    with Image.open(path) as picture:
        out = []
        for i in range(picture.n_frames):
            picture.seek(i)
            out.append(np.asarray(picture.convert("L")))
    return np.stack(out), picture.info


def test_the_issue_command(trained_run, tmp_path, capsys):
    out = tmp_path / "walk.gif"
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "1,7,42", "--frames-between", 24,
               "--loop", "--ease", "in-out", "--format", "gif", "--scale", 4, "--out", out) == 0
    assert "75 frames through seeds 1, 7, 42, looping" in capsys.readouterr().out
    frames, info = frames_of(out)
    assert frames.shape[1:] == (112, 112) and info["loop"] == 0
    assert len(frames) <= 75   # identical neighbours (if any) are stored once, longer


@pytest.mark.parametrize("fmt, name", [("gif", "w.gif"), ("apng", "w.png"), ("webp", "w.webp"),
                                       ("mp4", "w.mp4"), ("frames", "w"), ("sheet", "s.png")])
def test_every_format_and_json(trained_run, tmp_path, capsys, fmt, name):
    if fmt == "mp4":
        pytest.importorskip("av")
    out = tmp_path / name
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "3,4", "--frames-between", 2,
               "--format", fmt, "--scale", 1, "--out", out, "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record == {"file": str(out), "frames": 4, "seeds": [3, 4], "format": fmt}
    assert cli("keyframes", out, "--json") == 0
    saved = json.loads(capsys.readouterr().out)
    assert [k["seed"] for k in saved["timeline"]["keyframes"]] == [3, 4]
    assert saved["provenance"]["model"] == "dcgan" and saved["provenance"]["run"] == trained_run.name


def test_round_trip_re_renders_identical_frames(trained_run, tmp_path, capsys):
    first, second = tmp_path / "a.webp", tmp_path / "b.webp"
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "5,9,2", "--frames-between", 3,
               "--ease", "in-out", "--loop", "--out", first) == 0
    assert cli("animate", trained_run, "--kind", "interpolate", "--from", first, "--out", second) == 0
    np.testing.assert_array_equal(frames_of(first)[0], frames_of(second)[0])
    assert cli("keyframes", first) == 0
    text = capsys.readouterr().out
    assert "keyframes 5,9,2; 3 frames between, ease in-out, slerp, loop" in text


def test_from_file_settings_can_be_overridden(trained_run, tmp_path, capsys):
    first, second = tmp_path / "a.gif", tmp_path / "b.gif"
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "5,9", "--frames-between", 3,
               "--out", first) == 0
    assert cli("animate", trained_run, "--kind", "interpolate", "--from", first, "--frames-between", 1,
               "--out", second, "--json") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["frames"] == 3


def test_timelapse_of_chosen_tiles(trained_run, tmp_path, capsys):
    out = tmp_path / "lapse.png"
    assert cli("animate", trained_run, "--tiles", "9", "--scale", 1, "--out", out, "--json") == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 5
    frames, _ = frames_of(out)
    assert frames.shape[1:] == (28, 28)
    assert cli("keyframes", out) == 0
    assert "no keyframes" in capsys.readouterr().out


def test_estimate_writes_nothing(trained_run, tmp_path, capsys):
    out = tmp_path / "w.gif"
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "1,2", "--out", out,
               "--estimate", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["format"] == "gif" and record["frames"] == 26 and record["estimated_bytes"] > 1000
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["--kind", "interpolate", "--out", "{tmp}/x.gif"], "needs --seeds"),
    (["--kind", "interpolate", "--seeds", "1", "--out", "{tmp}/x.gif"], "between 2 and 256 keyframes"),
    (["--kind", "interpolate", "--seeds", "1,2", "--from", "{tmp}/x.gif", "--out", "{tmp}/x.gif"],
     "not both"),
    (["--kind", "interpolate", "--from", "{tmp}/nothing.gif", "--out", "{tmp}/x.gif"], "no such file"),
    (["--kind", "interpolate", "--seeds", "1,2", "--out", "{tmp}/x.avi"], "cannot tell the format"),
    (["--kind", "interpolate", "--seeds", "1,2", "--crf", "99", "--out", "{tmp}/x.mp4"], "crf"),
    (["--kind", "process", "--out", "{tmp}/x.gif"], "no process animation"),
    (["--tiles", "70", "--out", "{tmp}/x.gif"], "tiles must be from 0 to 63"),
])
def test_bad_animate_commands(trained_run, tmp_path, capsys, argv, message):
    assert cli("animate", trained_run, *[a.format(tmp=tmp_path) for a in argv]) == EXIT_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "x.gif").exists()


def test_bad_seed_list_is_a_usage_error(trained_run, tmp_path, capsys):
    assert cli("animate", trained_run, "--kind", "interpolate", "--seeds", "1,x", "--out",
               tmp_path / "x.gif") == EXIT_USAGE
    assert "whole numbers separated by commas" in capsys.readouterr().err


def test_keyframes_of_a_file_without_provenance(tmp_path, capsys):
    Image.new("L", (3, 3)).save(tmp_path / "plain.gif")
    assert cli("keyframes", tmp_path / "plain.gif") == EXIT_ERROR
    assert "carries no Latent Atelier metadata" in capsys.readouterr().err


# -- memory (issue 22, item 9) ------------------------------------------------------------
ISSUE_WALK = ["--kind", "interpolate", "--seeds", ",".join(str(s) for s in range(1, 21)),
              "--frames-between", "1000", "--scale", "64"]


@pytest.mark.parametrize("fmt, name", [("gif", "w.gif"), ("sheet", "s.png")])
def test_a_walk_too_large_for_memory_is_refused_before_any_frame(trained_run, tmp_path, capsys,
                                                                 monkeypatch, fmt, name):
    # The issue's walk (19,020 frames at scale 64) passed 6 GB as a GIF; the sheet
    # ended with advice about the batch size.
    made = []
    monkeypatch.setattr("engine.studio.animation.timeline_latents", lambda *a: made.append(a) or 1 / 0)
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 8 * 2**30)
    out = tmp_path / name
    assert cli("animate", trained_run, *ISSUE_WALK, "--format", fmt, "--out", out) == EXIT_ERROR
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the export needs about ")
    assert f"19,020 frames as {fmt}" in lines[0] and "more than 50% of the 8.0 GB available" in lines[0]
    assert "--scale or --frames-between" in lines[0] and "batch size" not in lines[0]
    assert made == [] and not out.exists()


def test_estimate_tells_the_memory_and_whether_it_fits(trained_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "w.gif"
    argv = ["animate", trained_run, "--kind", "interpolate", "--seeds", "1,2", "--scale", "8",
            "--out", out, "--estimate"]
    assert cli(*argv, "--json") == 0
    record = json.loads(capsys.readouterr().out)
    # 26 frames of 224 x 224 palette indices, held by Pillow until the end.
    assert record["memory_bytes"] >= 26 * 224 * 224 and record["fits"] is True
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 2 * 2**20)
    assert cli(*argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("about ") and "as gif (26 frames); the export needs about" in text
    assert "more than 50% of the 2.0 MB available, so it would be refused" in text
    assert not out.exists()


def test_a_timelapse_too_large_for_memory_is_refused_before_writing(trained_run, tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setattr("engine.studio.exporters.memory.available_ram", lambda: 2**20)
    out = tmp_path / "t.png"
    assert cli("animate", trained_run, "--kind", "timelapse", "--format", "apng", "--scale", "8",
               "--out", out) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "as apng" in err and "--scale or --tiles" in err
    assert not out.exists()
