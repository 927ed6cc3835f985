"""Exact resume for the recurrent families: stop at k, resume to n == one run to n (CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from engine.runs.folders import RunDir
from engine.studio.sampling import sample_run
from engine.training import resume, train

NETWORK = {"row-lstm": "pixel_rnn", "draw": "draw", "convlstm": "convlstm"}


@pytest.fixture(scope="module")
def gif_spec(tmp_path_factory) -> str:
    frames = []
    for t in range(7):
        a = np.zeros((16, 16), np.uint8)
        a[1 + t:5 + t, 2 + t:6 + t] = 255
        frames.append(Image.fromarray(a))
    path = tmp_path_factory.mktemp("anim") / "square.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return f"frames:{path}"


def settings(model: str, data_spec: str, gif_spec: str) -> dict:
    if model == "row-lstm-8bit":
        return dict(model="row-lstm", data=data_spec, image_size=8, width=8, batch_size=8,
                    model_settings={"levels": 256})
    if model == "convlstm":   # 7 frames -> two 6-frame sequences
        return dict(model=model, data=gif_spec, image_size=8, width=4, batch_size=2)
    return dict(model=model, data=data_spec, image_size=8, width=8, batch_size=8)


@pytest.mark.parametrize("model", ["row-lstm", "row-lstm-8bit", "draw", "convlstm"])
def test_resume_equals_an_uninterrupted_run(tiny_config, tmp_path, data_spec, gif_spec, model):
    common = settings(model, data_spec, gif_spec)
    list(train(tiny_config(**common, steps=5, sample_every=1000), tmp_path / "straight"))
    list(train(tiny_config(**common, steps=2, sample_every=1000), tmp_path / "parts"))
    events = list(resume(tmp_path / "parts", steps=5))
    assert events[0].start_step == 2 and events[-1].step == 5
    net = NETWORK[common["model"]]
    a = load_file(str(RunDir(tmp_path / "straight").weights_path(net)))
    b = load_file(str(RunDir(tmp_path / "parts").weights_path(net)))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    seeds = [0, 1, 2]
    np.testing.assert_array_equal(sample_run(tmp_path / "straight", seeds, device="cpu"),
                                  sample_run(tmp_path / "parts", seeds, device="cpu"))
