"""engine.cli.main (in-process, with capsys) and `python -m engine`; plus the no-Qt guarantee."""
from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import engine
from engine.runs.folders import RunDir
from engine.cli.main import EXIT_ERROR, EXIT_USAGE, main
from engine.training.events import Progress
from engine.cli.progress_bar import ProgressBar
from engine.storage.sizes import format_seconds

REPO = Path(engine.__file__).resolve().parent.parent
TINY = ["--width", "8", "--batch-size", "8", "--device", "cpu"]


def cli(*argv) -> int:
    """main(argv) with argparse's SystemExit turned into a return code."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR


# -- train ---------------------------------------------------------------------------
def test_train(data_spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli("train", "--data", data_spec, *TINY, "--steps", 3, "--out", out) == 0
    captured = capsys.readouterr()
    assert "training dcgan on cpu" in captured.out
    assert "64 images" in captured.out
    assert "completed at step 3" in captured.out and str(out) in captured.out
    assert (out / "config.json").is_file() and (RunDir(out).weights_path("generator")).is_file()
    assert json.loads((out / "config.json").read_text())["train"]["batch_size"] == 8
    assert "step 3" in captured.err  # the progress bar goes to stderr


def test_train_json_prints_one_event_per_line(data_spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli("train", "--data", data_spec, *TINY, "--model", "mlp-gan", "--steps", 2,
               "--sample-every", 1, "--seed", 3, "--out", out, "--json") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "RunStarted" and kinds[-1] == "Finished"
    assert kinds.count("Samples") == 3  # step 0, 1, 2 (--sample-every 1)
    progress = [r for r in records if r["event"] == "Progress"]
    assert progress and progress[-1]["step"] == 2  # reports are timed; the last is at the end
    assert set(progress[-1]["losses"]) == {"generator", "discriminator", "D(x)", "D(G(z))"}
    assert records[0]["model"] == "mlp-gan" and records[0]["total_steps"] == 2
    assert records[-1]["reason"] == "completed" and records[-1]["step"] == 2
    assert all("grid" not in r for r in records)
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 3


def test_train_minutes_budget(data_spec, tmp_path, capsys):
    assert cli("train", "--data", data_spec, *TINY, "--minutes", 0.002, "--out", tmp_path / "r") == 0
    assert "time budget reached" in capsys.readouterr().out


def test_train_without_out_uses_the_runs_folder(data_spec, atelier_home, capsys):
    assert cli("train", "--data", data_spec, *TINY, "--steps", 1) == 0
    runs = list((atelier_home / "runs").iterdir())
    assert len(runs) == 1 and str(runs[0]) in capsys.readouterr().out


# -- sample --------------------------------------------------------------------------
def test_sample_grid_png(trained_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli("sample", trained_run, "--n", 4, "--device", "cpu", "--out", out) == 0
    assert "wrote 1 file(s)" in capsys.readouterr().out
    with Image.open(out) as png:
        assert png.size == (2 * 30 + 2, 2 * 30 + 2)  # 2x2 tiles of 28 px
        provenance = json.loads(png.text["latent-atelier"])
    assert provenance["seeds"] == [0, 1, 2, 3] and provenance["run"] == trained_run.name


def test_sample_grid_scaled(trained_run, tmp_path):
    out = tmp_path / "big.png"
    assert cli("sample", trained_run, "--n", 1, "--scale", 3, "--device", "cpu", "--out", out) == 0
    with Image.open(out) as png:
        assert png.size == (3 * 32, 3 * 32)


def test_sample_to_a_folder(trained_run, tmp_path, capsys):
    folder = tmp_path / "pictures"
    assert cli("sample", trained_run, "--n", 3, "--seed", 5, "--device", "cpu",
               "--out", f"{folder}/", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["seed_000005.png", "seed_000006.png", "seed_000007.png"]
    assert result["seeds"] == [5, 6, 7] and len(result["files"]) == 3
    with Image.open(folder / "seed_000006.png") as png:
        assert png.size == (28, 28)
        assert json.loads(png.text["latent-atelier"])["seed"] == 6


def test_sample_to_an_existing_folder_without_slash(trained_run, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()
    assert cli("sample", trained_run, "--n", 2, "--device", "cpu", "--out", folder) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["seed_000000.png", "seed_000001.png"]


def test_sample_files_match_the_grid(trained_run, tmp_path):
    import numpy as np
    from engine.media.images import make_grid
    cli("sample", trained_run, "--n", 4, "--device", "cpu", "--out", f"{tmp_path / 'f'}/")
    cli("sample", trained_run, "--n", 4, "--device", "cpu", "--out", tmp_path / "g.png")
    tiles = np.stack([np.asarray(Image.open(tmp_path / "f" / f"seed_{i:06d}.png"))[:, :, None]
                      for i in range(4)])
    np.testing.assert_array_equal(make_grid(tiles)[:, :, 0], np.asarray(Image.open(tmp_path / "g.png")))


# -- animate and bench ---------------------------------------------------------------
def test_animate_timelapse_gif(trained_run, tmp_path, capsys):
    out = tmp_path / "lapse.gif"
    assert cli("animate", trained_run, "--fps", 5, "--scale", 1, "--out", out) == 0
    assert "5 frames, steps 0..4" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.is_animated and gif.n_frames == 5
        assert gif.size == (242, 242)
        assert gif.info["duration"] == 200


def test_animate_json_default_scale(trained_run, tmp_path, capsys):
    out = tmp_path / "lapse.gif"
    assert cli("animate", trained_run, "--out", out, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"file": str(out), "frames": 5, "steps": [0, 1, 2, 3, 4]}
    with Image.open(out) as gif:
        assert gif.size == (484, 484)  # --scale defaults to 2


def test_bench_json(data_spec, capsys):
    assert cli("bench", "--data", data_spec, *TINY, "--steps", 2, "--warmup", 0, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images_per_second"] > 0 and result["batch_size"] == 8
    assert result["peak_memory_mb"] is None or result["peak_memory_mb"] > 0


def test_bench_text(data_spec, capsys):
    assert cli("bench", "--data", data_spec, *TINY, "--model", "mlp-gan", "--steps", 1,
               "--warmup", 0) == 0
    assert "mlp-gan:" in capsys.readouterr().out


# -- errors: non-zero exit and one line on stderr ------------------------------------
@pytest.mark.parametrize("argv,code,message", [
    (["train", "--batch-size", "0"], EXIT_ERROR, "batch size must be at least 2"),
    (["train", "--image-size", "7"], EXIT_ERROR, "image size must be one of"),
    (["train", "--lr", "-1"], EXIT_ERROR, "learning rate must be a positive number"),
    (["train", "--steps", "0"], EXIT_ERROR, "steps must be at least 1"),
    (["train", "--minutes", "0"], EXIT_ERROR, "minutes must be a positive number"),
    (["train", "--width", "2"], EXIT_ERROR, "width must be between 4 and 1024"),
    (["train", "--device", "tpu"], EXIT_ERROR, "unknown device"),
    (["train", "--model", "stylegan"], EXIT_USAGE, "invalid choice: 'stylegan'"),
    (["train", "--steps", "ten"], EXIT_USAGE, "invalid int value"),
    (["train", "--data", "cifar"], EXIT_ERROR, "unknown data spec"),
    (["train", "--threads", "-1"], EXIT_ERROR, "threads must be a whole number from 1 to 1024"),
    (["bench", "--threads", "-3"], EXIT_ERROR, "threads must be a whole number"),
    (["bench", "--steps", "0"], EXIT_USAGE, "--steps must be at least 1"),
    (["bench", "--batch-size", "0"], EXIT_ERROR, "batch size"),
    ([], EXIT_USAGE, "required"),
    (["paint"], EXIT_USAGE, "invalid choice"),
    (["sample", "--out", "x.png"], EXIT_USAGE, "the following arguments are required: run"),
])
def test_bad_arguments(argv, code, message, tmp_path, capsys, data_spec):
    if argv[:1] in (["train"], ["bench"]):
        # tiny data and the CPU unless the case itself is about them
        for option, value in (("--data", data_spec), ("--device", "cpu")):
            if option not in argv:
                argv = [*argv, option, value]
    if argv[:1] == ["train"]:
        argv = [*argv, "--out", str(tmp_path / "never")]
    assert cli(*argv) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "error" in lines[0] and message in lines[0]
    assert captured.out == ""
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("argv,message", [
    (["sample", "{missing}", "--out", "{tmp}/x.png"], "is not a run folder"),
    (["sample", "{run}", "--n", "0", "--out", "{tmp}/x.png"], "number of images"),
    (["sample", "{run}", "--scale", "0", "--out", "{tmp}/x.png"], "scale must be between 1 and 64"),
    (["sample", "{run}", "--seed", "-2", "--out", "{tmp}/x.png"], "seed must be between"),
    (["animate", "{missing}", "--out", "{tmp}/x.gif"], "is not a run folder"),
    (["animate", "{run}", "--fps", "0", "--out", "{tmp}/x.gif"], "frame rate"),
    (["animate", "{run}", "--fps", "60", "--out", "{tmp}/x.gif"], "between 0.1 and 50"),
    (["sample", "{run}", "--scale", "1000", "--out", "{tmp}/x.png"], "scale must be between 1 and 64"),
    (["sample", "{run}", "--seed", str(2**64), "--out", "{tmp}/x.png"], "seed must be between"),
    (["sample", "{run}", "--device", "cuda:x", "--out", "{tmp}/x.png"], "device"),
    (["animate", "{run}", "--scale", "0", "--out", "{tmp}/x.gif"], "scale must be between 1 and 64"),
])
def test_bad_run_commands(argv, message, trained_run, tmp_path, capsys):
    values = {"missing": tmp_path / "no-run", "run": trained_run, "tmp": tmp_path}
    assert cli(*[a.format(**values) for a in argv]) == EXIT_ERROR
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_version(capsys):
    assert cli("--version") == 0
    assert engine.__version__ in capsys.readouterr().out


def test_python_dash_m_engine_help():
    result = subprocess.run([sys.executable, "-m", "engine", "--help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    for command in ("train", "sample", "animate", "bench"):
        assert command in result.stdout


# -- progress bar --------------------------------------------------------------------
@pytest.mark.parametrize("seconds,text", [(None, "--:--"), (0, "00:00"), (59.6, "01:00"),
                                          (61, "01:01"), (3725, "1:02:05")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def _progress(step, fraction):
    return Progress(step=step, total_steps=100, fraction=fraction,
                    losses={"generator": 1.0, "D(x)": 0.5}, images_per_second=10.0,
                    elapsed_seconds=1.0, eta_seconds=5.0)


def test_progress_bar_in_a_log_writes_a_line_per_ten_percent():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    for step in range(1, 101):
        bar.update(_progress(step, step / 100))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # 1%, 10%, 20%, ... 100%
    assert lines[-1].startswith("[##########] 100% step 100")
    assert "generator 1.000" in lines[-1] and "D(x)" not in lines[-1]
    assert "\r" not in stream.getvalue()


def test_progress_bar_on_a_terminal_redraws_one_line():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = ProgressBar(stream, width=4)
    bar.update(_progress(1, 0.5))
    bar.update(_progress(2, 0.75))
    bar.close()
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("\n")
    assert "[###.]" in stream.getvalue()


# -- the engine never imports Qt -----------------------------------------------------
QT_PREFIXES = ("PySide6", "shiboken6", "desktop_app", "PyQt5", "PyQt6", "pyqtgraph")


def test_importing_every_engine_module_pulls_in_no_qt():
    script = f"""
import importlib, pkgutil, sys
import engine
names = ["engine"] + [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
for name in names:
    if not name.endswith("__main__"):
        importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {QT_PREFIXES!r})
print(len(names))
print(",".join(bad))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    count, bad = result.stdout.splitlines()
    assert int(count) >= 20  # really walked the package
    assert bad == "", f"engine imports Qt or the app: {bad}"


def test_engine_sources_do_not_import_qt():
    offenders = []
    files = sorted((REPO / "engine").rglob("*.py"))
    assert len(files) >= 20
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] in QT_PREFIXES:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
        # and no dynamic import by string either
        text = path.read_text(encoding="utf-8")
        for prefix in ("PySide6", "shiboken6", "desktop_app"):
            if f'"{prefix}' in text or f"'{prefix}" in text:
                offenders.append(f"{path.relative_to(REPO)} names {prefix} in a string")
    assert offenders == []


def test_train_into_a_read_only_folder_is_one_clear_line(data_spec, read_only_folder, capsys):
    out = read_only_folder / "run"
    assert cli("train", "--data", data_spec, "--width", "8", "--batch-size", "8", "--steps", "2",
               "--device", "cpu", "--out", str(out)) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("error: cannot write to") and str(out) in err


def test_sample_into_a_read_only_folder_keeps_the_run(trained_run, read_only_folder, capsys):
    before = sorted(p.name for p in trained_run.iterdir())
    assert cli("sample", str(trained_run), "--n", "4", "--out", str(read_only_folder / "g.png")) \
        == EXIT_ERROR
    assert "cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in trained_run.iterdir()) == before


def test_unexpected_failures_are_one_line_not_a_traceback(data_spec, tmp_path, capsys, monkeypatch):
    import engine.training

    def boom(self):
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 9 GB\nmore")

    monkeypatch.setattr(engine.training.TrainingSession, "step", boom)
    code = cli("train", "--data", data_spec, *TINY, "--steps", 2, "--out", tmp_path / "run")
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: out of memory")


# -- output paths that are not regular files (issue 22, item 6) -------------------------
def test_sample_out_to_a_fifo_or_device_is_refused_in_one_line(trained_run, tmp_path, capsys):
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    targets = [fifo]
    try:   # a stand-in for `--out /dev/full`, which root could otherwise replace
        os.mknod(tmp_path / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
        targets.append(tmp_path / "full")
    except OSError:
        pass
    for target in targets:
        assert cli("sample", trained_run, "--n", 4, "--out", target) == EXIT_ERROR
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(target) in err and "not a regular file" in err
        assert "Error" not in err
        assert not stat.S_ISREG(target.lstat().st_mode)   # still the pipe / device node


def test_export_out_to_a_fifo_is_refused_in_one_line(trained_run, tmp_path, capsys):
    fifo = tmp_path / "model.atelier.safetensors"
    os.mkfifo(fifo)
    assert cli("export", trained_run, "--out", fifo) == EXIT_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(fifo) in err and "named pipe" in err
    assert fifo.is_fifo()


def test_train_json_lines_leave_pictures_out_for_a_model_with_a_process(data_spec, tmp_path, capsys):
    # Its Samples events carry the process's frames besides the grid.
    assert main(["train", "--model", "draw", "--data", data_spec, "--batch-size", "8",
                 "--steps", "2", "--device", "cpu", "--json", "--out", str(tmp_path / "run")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    samples = [r for r in records if r["event"] == "Samples"]
    assert samples and all("process" not in r and "grid" not in r for r in samples)
    assert samples[0]["process_name"]
