"""The shipped evaluator: accurate, described by its metadata, and checked on load."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from engine.data import load_data
from engine.metrics.evaluator import (EVALUATOR_NAME, EvaluatorError, MnistEvaluator,
                                      evaluator_path, load_evaluator, read_metadata)
from engine.metrics.features import RandomFeatures, make_extractor


def test_shipped_evaluator_records_its_accuracy_and_command():
    meta = read_metadata()
    assert meta["network"] == EVALUATOR_NAME
    assert json.loads(meta["test_accuracy"]) >= 0.99
    assert meta["command"].startswith("python tools/train_evaluator.py")


def test_shipped_evaluator_classifies_mnist_test_digits():
    test = load_data("mnist", "test")
    net = load_evaluator("cpu")
    x = torch.from_numpy(test.images[:1000].copy()).float().div(127.5).sub(1)
    with torch.inference_mode():
        predicted = net(x).argmax(1).numpy()
    assert (predicted == test.labels[:1000]).mean() >= 0.98


def _write(path, tensors, network=EVALUATOR_NAME):
    save_file(tensors, str(path), metadata={"network": network})
    return path


def test_wrong_files_are_refused_with_a_clear_message(tmp_path):
    good = {k: v.contiguous() for k, v in MnistEvaluator().state_dict().items()}
    cases = {
        "missing.safetensors": None,
        "pickle.safetensors": b"\x80\x04\x95 not a safetensors file",
        "empty.safetensors": b"",
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(EvaluatorError, match=name):
            load_evaluator(path=tmp_path / name)
    with pytest.raises(EvaluatorError, match="not a mnist-evaluator-v1"):
        load_evaluator(path=_write(tmp_path / "other.safetensors", good, network="gan"))
    shapes = dict(good, **{"feature.weight": torch.zeros(3, 3)})
    with pytest.raises(EvaluatorError, match="feature.weight has shape"):
        load_evaluator(path=_write(tmp_path / "shape.safetensors", shapes))
    fewer = {k: v for k, v in good.items() if k != "classifier.bias"}
    with pytest.raises(EvaluatorError, match="classifier.bias"):
        load_evaluator(path=_write(tmp_path / "fewer.safetensors", fewer))
    truncated = evaluator_path().read_bytes()[:500]
    (tmp_path / "cut.safetensors").write_bytes(truncated)
    with pytest.raises(EvaluatorError, match="cut.safetensors"):
        load_evaluator(path=tmp_path / "cut.safetensors")


def test_random_features_work_for_colour_and_any_size_and_never_change():
    extractor = RandomFeatures(torch.device("cpu"))
    colour = torch.rand(4, 3, 48, 48) * 2 - 1
    first, probs = extractor(colour)
    assert first.shape == (4, 512) and probs is None
    again, _ = RandomFeatures(torch.device("cpu"))(colour)
    assert (first == again).all()
    grey, _ = extractor(torch.rand(2, 1, 20, 20) * 2 - 1)
    assert grey.shape == (2, 512)
    assert make_extractor("auto", 3, torch.device("cpu")).name == "random-conv-v1"
    assert make_extractor("auto", 1, torch.device("cpu")).name == EVALUATOR_NAME
