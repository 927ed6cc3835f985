"""Next-frame scores of sequence models (convlstm) on the Moving MNIST protocol,
alone and through the evaluator that `eval RUN` uses; DRAW's bound there too."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli.main import main
from engine.errors import ConfigError
from engine.metrics.evaluate import EvalConfig, format_result, run_evaluation
from engine.metrics.next_frames import last_frames, next_frame_scores, ssim
from engine.training import TrainConfig, train


class BlankPredictor:
    """Predicts black frames, so the summed squared error is the truth's own energy."""

    def __init__(self, size: int) -> None:
        self.config = SimpleNamespace(image_size=size, channels=1)
        self.device = torch.device("cpu")
        self.seen: list[tuple[int, int]] = []

    def continue_frames(self, context: torch.Tensor, count: int) -> torch.Tensor:
        self.seen.append((context.shape[1], count))
        return -torch.ones(context.shape[0], count, *context.shape[2:])


def scores(model, sequences, batch_size=100):
    *progress, (done, result) = list(next_frame_scores(model, sequences, batch_size))
    assert all(r is None for _, r in progress) and done == len(sequences)
    return result


def test_protocol_is_ten_in_ten_predicted_and_mse_is_summed_over_pixels():
    sequences = np.zeros((3, 20, 1, 8, 8), np.uint8)
    sequences[:, 10:, :, :2, :2] = 255            # 4 white pixels in each frame to predict
    model = BlankPredictor(8)
    result = scores(model, sequences, batch_size=2)
    assert model.seen == [(10, 10), (10, 10)]     # two batches, each 10 in and 10 out
    assert result["frames_in"] == 10 and result["frames_out"] == 10 and result["sequences"] == 3
    assert result["mse_per_frame"] == pytest.approx(4.0)   # a sum over pixels, not a mean
    assert result["ssim"] < 0.5


def test_short_sequences_keep_one_frame_to_predict():
    result = scores(BlankPredictor(8), np.zeros((2, 6, 1, 8, 8), np.uint8))
    assert (result["frames_in"], result["frames_out"]) == (5, 1)
    assert result["mse_per_frame"] == 0 and result["ssim"] == pytest.approx(1.0)


def test_stills_are_refused():
    with pytest.raises(ConfigError, match="sequences"):
        list(next_frame_scores(BlankPredictor(8), np.zeros((2, 1, 8, 8), np.uint8)))


def test_last_frames_and_ssim():
    seq = np.arange(2 * 3 * 1 * 4 * 4, dtype=np.uint8).reshape(2, 3, 1, 4, 4)
    assert np.array_equal(last_frames(seq), seq[:, -1])
    a = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(a, a), torch.ones(2)) and (ssim(a, 1 - a) < 0.5).all()


def tiny_run(out, **settings):
    config = TrainConfig(**{**dict(image_size=8, width=4, batch_size=2, steps=2, device="cpu",
                                   sample_every=1000, report_seconds=0.0), **settings})
    list(train(config, out))
    return out


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("next-frames")
    frames = np.zeros((8, 16, 16), np.uint8)
    for t in range(8):
        frames[t, 1 + t:5 + t, 2 + t:6 + t] = 255
    pictures = [Image.fromarray(f) for f in frames]
    pictures[0].save(base / "square.gif", save_all=True, append_images=pictures[1:], duration=100)
    return tiny_run(base / "conv", model="convlstm", data=f"frames:{base / 'square.gif'}")


def test_eval_reports_convlstm_next_frame_scores(conv_run, capsys):
    config = EvalConfig(samples=8, batch_size=8, device="cpu", features="random", record=False)
    result = run_evaluation(conv_run, config)
    # frames:PATH cuts the 8-frame GIF into two 7-frame windows: 6 in, 1 predicted.
    assert result["next_frame_frames_in"] == 6 and result["next_frame_frames_out"] == 1
    assert 0 <= result["next_frame_mse_per_frame"] <= 64
    assert -1 <= result["next_frame_ssim"] <= 1
    assert result["next_frame_sequences"] == 2
    assert result["reference_count"] == 2 and result["fd"] >= 0   # FD on the last frames
    assert "next frames: MSE" in format_result(result)
    # The CLI prints the same through --json.
    assert main(["eval", str(conv_run), "--samples", "8", "--features", "random",
                 "--device", "cpu", "--no-record", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["next_frame_mse_per_frame"] == pytest.approx(result["next_frame_mse_per_frame"])


def test_eval_reports_draws_bound(data_spec, tmp_path):
    run = tiny_run(tmp_path / "draw", model="draw", data=data_spec, width=8, image_size=28)
    config = EvalConfig(samples=8, batch_size=8, device="cpu", features="random",
                        likelihood_limit=8, record=False)
    result = run_evaluation(run, config)
    assert result["likelihood_protocol"] == "binarized"
    # A bound on -log p(x) of 28x28 binary images after two steps: positive,
    # and below 784 coin flips (543 nats) plus a margin.
    assert 0 < result["neg_elbo_nats"] < 784 * 2
    assert "neg_elbo: " in format_result(result)
