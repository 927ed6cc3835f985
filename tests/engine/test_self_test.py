"""The installation self-test: train, sample, export, and no network."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from PIL import Image

from engine.diagnostics import self_test
from engine.diagnostics.self_test import SelfTestError, run_self_test


def test_self_test_trains_samples_and_exports_a_gif(tmp_path, data_spec):
    report = run_self_test(tmp_path / "out", steps=2, data=data_spec)
    assert report.steps == 2
    assert (tmp_path / "out" / "run" / "manifest.json").exists()
    with Image.open(report.grid_png) as grid:
        assert grid.size[0] > 28 * 4 * 2   # 4 x 4 tiles, enlarged twice
    with Image.open(report.timelapse_gif) as gif:
        assert gif.format == "GIF" and gif.n_frames == report.frames >= 2
    video = Path(report.timelapse_mp4)
    assert video.name == "timelapse.mp4" and video.read_bytes()[4:8] == b"ftyp"
    lines = report.lines()
    assert lines[0].endswith("passed") and "network connections attempted: 0" in lines


def test_frozen_build_without_video_skips_mp4_and_says_so(tmp_path, data_spec, monkeypatch):
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setitem(sys.modules, "av", None)   # as in a build made --without-video
    report = run_self_test(tmp_path / "out", steps=2, data=data_spec)
    assert report.timelapse_mp4 == "" and not (tmp_path / "out" / "timelapse.mp4").exists()
    assert "MP4 video skipped: this build of Latent Atelier leaves out video" in "\n".join(
        report.lines())


def test_from_source_a_missing_video_library_fails_the_self_test(tmp_path, data_spec,
                                                                 monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(SelfTestError, match=r"^exporting the MP4 video failed: .*pip install av"):
        run_self_test(tmp_path / "out", steps=2, data=data_spec)


def test_self_test_names_the_stage_that_failed(tmp_path):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    with pytest.raises(SelfTestError, match="^training failed: .*no-mnist"):
        run_self_test(tmp_path / "out", steps=2, data=f"idx:{empty}")


def test_self_test_fails_when_anything_touches_the_network(tmp_path, monkeypatch):
    def stages_that_phone_home(out, steps, data, report, video_optional):
        try:  # TEST-NET-1: never routed, so nothing leaves the machine
            socket.create_connection(("192.0.2.1", 9), timeout=0.01).close()
        except OSError:
            pass

    monkeypatch.setattr(self_test, "_stages", stages_that_phone_home)
    with pytest.raises(SelfTestError, match=r"tried to use the network: socket\.\w+ .*192\.0\.2\.1"):
        run_self_test(tmp_path / "out")


def test_the_network_watch_ignores_local_sockets_and_stops_when_closed(tmp_path):
    path = str(tmp_path / "bus")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    with self_test._NetworkWatch() as watch:
        client = socket.socket(socket.AF_UNIX)
        client.connect(path)   # a Unix socket (the desktop bus, say) is not the network
        client.close()
    server.close()
    assert watch.attempts == []
    try:  # after the watch closed, nothing is recorded any more
        socket.create_connection(("192.0.2.1", 9), timeout=0.01).close()
    except OSError:
        pass
    assert watch.attempts == []


def test_cli_self_test_reports_json_and_exits_zero(tmp_path, monkeypatch, capsys):
    from engine.cli import main as cli

    monkeypatch.setattr(self_test, "SELF_TEST_STEPS", 2)
    assert cli.main(["self-test", str(tmp_path / "out"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 2 and report["network_attempts"] == []
    assert Path(report["timelapse_gif"]).exists()


def test_cli_self_test_failure_is_one_line_and_exit_one(tmp_path, capsys):
    from engine.cli import main as cli

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run").write_text("in the way")
    assert cli.main(["self-test", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("error: training failed: ")


def test_a_second_self_test_into_the_same_folder_replaces_its_own_run(tmp_path, data_spec):
    # Issue 22, item 12: the second run failed, "out/run already holds a run".
    first = run_self_test(tmp_path / "out", steps=2, data=data_spec)
    (tmp_path / "out" / "run" / "left-by-the-first.txt").write_text("x")
    second = run_self_test(tmp_path / "out", steps=2, data=data_spec)
    assert second.steps == 2 and second.run_dir == first.run_dir
    assert not (tmp_path / "out" / "run" / "left-by-the-first.txt").exists()
    assert (tmp_path / "out" / "run" / "manifest.json").exists()


def test_a_run_the_self_test_did_not_make_is_never_replaced(tmp_path, data_spec, trained_run):
    import shutil

    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(trained_run, out / "run")   # someone's own run, no self-test marker
    before = sorted(p.relative_to(out) for p in (out / "run").rglob("*"))
    with pytest.raises(SelfTestError, match="^training failed: .*already holds a run"):
        run_self_test(out, steps=2, data=data_spec)
    assert sorted(p.relative_to(out) for p in (out / "run").rglob("*")) == before
    assert not (out / self_test.MARKER_FILE).exists()
