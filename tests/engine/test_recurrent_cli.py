"""CLI and tools for the recurrent families: process and continue animations,
test-set scores, bench rates; and short quality checks (slow)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.diagnostics.bench import bench
from engine.cli.main import main
from engine.cli.recurrent_eval import evaluate_run, ssim
from engine.training import TrainConfig, train


def gif(path, count: int = 7, side: int = 16) -> str:
    pictures = []
    for t in range(count):
        a = np.zeros((side, side), np.uint8)
        a[1 + t:5 + t, 2 + t:6 + t] = 255
        pictures.append(Image.fromarray(a))
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    return str(path)


def tiny_run(out, **settings):
    config = TrainConfig(**{**dict(image_size=8, width=8, batch_size=8, steps=2, device="cpu",
                                   sample_every=1000, report_seconds=0.0), **settings})
    list(train(config, out))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_spec):
    base = tmp_path_factory.mktemp("recurrent-runs")
    animation = gif(base / "square.gif")
    return {
        "row-lstm": tiny_run(base / "row", model="row-lstm", data=data_spec),
        "draw": tiny_run(base / "draw", model="draw", data=data_spec),
        "convlstm": tiny_run(base / "conv", model="convlstm", data=f"frames:{animation}",
                             width=4, batch_size=2),
        "gif": animation,
    }


def gif_frames(path) -> int:
    with Image.open(path) as picture:
        return picture.n_frames


@pytest.mark.parametrize("model,steps", [("row-lstm", 8), ("draw", 16), ("convlstm", 5 + 10)])
def test_animate_exports_the_models_process_by_default(runs, tmp_path, capsys, model, steps):
    out = tmp_path / "process.gif"
    assert main(["animate", str(runs[model]), "--out", str(out), "--seed", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == steps
    with Image.open(out) as picture:
        comment = json.loads(picture.info["comment"].decode())
    assert comment["kind"] == "process" and comment["seeds"] == [3]
    assert comment["process"] == {"row-lstm": "filling in", "draw": "drawing",
                                  "convlstm": "continuation"}[model]


def test_animate_continue_adds_frames(runs, tmp_path, capsys):
    out = tmp_path / "more.gif"
    assert main(["animate", str(runs["convlstm"]), "--kind", "continue", "--input", runs["gif"],
                 "--frames", "5", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["input_frames"] == 7 and result["added_frames"] == 5 and result["frames"] == 12
    with Image.open(out) as picture:
        assert picture.size == (16, 16)   # the model's 8x8 at --scale 2
        assert json.loads(picture.info["comment"].decode())["kind"] == "continue"


@pytest.mark.parametrize("model,argv,message", [
    ("draw", ["--kind", "continue", "--input", "GIF"], "cannot continue an animation"),
    ("convlstm", ["--kind", "continue"], "needs --input"),
    ("convlstm", ["--kind", "continue", "--input", "GIF", "--frames", "0"], "frames to add"),
])
def test_animate_bad_requests_fail_in_one_line(runs, tmp_path, capsys, model, argv, message):
    argv = [runs["gif"] if a == "GIF" else a for a in argv]
    assert main(["animate", str(runs[model]), *argv, "--out", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.gif").exists()


def test_timelapse_still_available(runs, tmp_path):
    assert main(["animate", str(runs["draw"]), "--kind", "timelapse",
                 "--out", str(tmp_path / "t.gif")]) == 0


def test_scores(runs):
    row = evaluate_run(runs["row-lstm"], limit=8, device="cpu")
    assert row["images"] == 8 and 0 < row["test_nll_nats"] < 8 * 8 * 2
    draw = evaluate_run(runs["draw"], limit=8, device="cpu")
    assert draw["test_nll_bound_nats"] > 0
    conv = evaluate_run(runs["convlstm"], device="cpu")
    assert conv["frames_in"] == 5 and conv["frames_out"] == 1   # 6-frame windows
    assert 0 <= conv["mse_per_frame"] <= 64 and -1 <= conv["ssim"] <= 1


def test_scores_of_a_named_checkpoint(runs):
    from engine.runs.checkpoints import read_manifest
    from engine.errors import AtelierError

    latest = read_manifest(runs["row-lstm"])["checkpoint"]
    named = evaluate_run(runs["row-lstm"], limit=8, device="cpu", checkpoint=latest)
    assert named["checkpoint"] == latest
    assert named["test_nll_nats"] == evaluate_run(runs["row-lstm"], limit=8,
                                                  device="cpu")["test_nll_nats"]
    with pytest.raises(AtelierError):
        evaluate_run(runs["row-lstm"], limit=8, device="cpu", checkpoint="step_no_such")


def test_ssim_is_one_for_equal_images_and_lower_otherwise():
    import torch
    a = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(a, a), torch.ones(2))
    assert (ssim(a, 1 - a) < 0.5).all()


def test_bench_reports_training_and_sampling_rates(data_spec, runs):
    result = bench(TrainConfig(model="row-lstm", data=data_spec, image_size=8, width=8,
                               batch_size=8, device="cpu"), steps=1, warmup=0, sample_count=4)
    assert result["images_per_second"] > 0 and result["sample_images_per_second"] > 0
    seq = bench(TrainConfig(model="convlstm", data=f"frames:{runs['gif']}", image_size=8, width=4,
                            batch_size=2, device="cpu"), steps=1, warmup=0, sample_count=2)
    assert seq["frames_per_second"] == pytest.approx(seq["images_per_second"] * 6)
    assert seq["sample_frames_per_second"] > 0


# -- short quality checks ---------------------------------------------------------------
@pytest.mark.slow
def test_row_lstm_learns_the_pattern_data(data_spec, tmp_path):
    # Squares on black at 8x8: from 44 nats (coin flips) to well under 20.
    run = tiny_run(tmp_path / "row", model="row-lstm", data=data_spec, steps=150,
                   learning_rate=3e-3, width=16)
    assert evaluate_run(run, device="cpu")["test_nll_nats"] < 20


@pytest.mark.slow
def test_draw_learns_the_pattern_data(data_spec, tmp_path):
    run = tiny_run(tmp_path / "draw", model="draw", data=data_spec, steps=80,
                   learning_rate=3e-3, width=16)
    assert evaluate_run(run, device="cpu")["test_nll_bound_nats"] < 30


@pytest.mark.slow
def test_convlstm_learns_a_moving_square(tmp_path):
    animation = gif(tmp_path / "square.gif", count=12)
    run = tiny_run(tmp_path / "conv", model="convlstm", data=f"frames:{animation}", steps=80,
                   learning_rate=3e-3, width=8, batch_size=2)
    # At 8x8 the moving square is a blurred 2x2 to 3x3 patch: a grey guess scores
    # about 16, an all-black frame 2.3 to 4; tracking the square scores lower.
    # (Measured 2.06 after these 80 steps on a 2-core CPU.)
    assert evaluate_run(run, device="cpu")["mse_per_frame"] < 2.5
