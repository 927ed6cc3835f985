"""A model loaded to sample, animate or evaluate builds nothing training-only:
no optimiser, and so no import of torch._dynamo (which the first optimiser a
process builds pulls in, seconds of start-up). Training and exact resume still
get their optimisers, built on first need."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.models import build_model, model_accepts, model_config, model_names

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]


def make(name: str):
    settings = {"width": 8}
    if model_accepts(name, "num_classes"):
        settings["num_classes"] = 10
    return build_model(name, model_config(name, **settings), CPU, seed=0)


@pytest.fixture
def optimizer_inits(monkeypatch) -> list[str]:
    """Every torch optimiser constructed while the test runs, by class name."""
    built: list[str] = []
    original = torch.optim.Optimizer.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", counting)
    return built


@pytest.mark.parametrize("name", model_names())
def test_building_and_sampling_builds_no_optimizer(name, optimizer_inits):
    model = make(name)
    if model.latent_noise:
        model.sample([0, 1])
    assert optimizer_inits == [] and not model.built_for_training


@pytest.mark.parametrize("name", model_names())
def test_optimizers_are_built_once_on_first_need(name, optimizer_inits):
    model = make(name)
    first = model.optimizers()
    assert first and optimizer_inits and model.built_for_training
    count = len(optimizer_inits)
    assert model.optimizers() is first and len(optimizer_inits) == count
    # Every trainable parameter is in exactly one optimiser, whenever it is built.
    params = {id(p) for net in model.networks().values() for p in net.parameters() if p.requires_grad}
    optimised = [id(p) for opt in first.values() for g in opt.param_groups for p in g["params"]]
    assert len(optimised) == len(set(optimised)) and set(optimised) <= params


def test_a_fresh_model_saves_and_restores_optimizer_state(tiny_config, tmp_path):
    """Resume state round-trips through a model that has not stepped yet."""
    from engine.training import TrainingSession
    session = TrainingSession(tiny_config())
    model = session.model
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    model.train_step(images)
    tensors, settings = model.training_state()
    fresh = build_model("dcgan", model.config, CPU, seed=0)
    assert not fresh.built_for_training
    fresh.load_training_state(tensors, settings)
    assert fresh.built_for_training
    for name, opt in model.optimizers().items():
        got = fresh.optimizers()[name].state_dict()
        want = opt.state_dict()
        assert got["param_groups"] == want["param_groups"]
        for index, values in want["state"].items():
            for key, value in values.items():
                assert torch.equal(got["state"][index][key], value)


SAMPLE_IN_A_FRESH_PROCESS = r"""
import json, sys, torch
built = []
original = torch.optim.Optimizer.__init__
def counting(self, *a, **k):
    built.append(type(self).__name__)
    original(self, *a, **k)
torch.optim.Optimizer.__init__ = counting
from engine.studio.sampling import sample_run
from engine.runs.bundles import load_model_from
from engine.studio.animation import WalkRenderer
from engine.studio.keyframes import Timeline
source = sys.argv[1]
_, model = load_model_from(source, torch.device("cpu"))
model.sample([0, 1, 2])
sample_run(source, [0, 1], "cpu")
WalkRenderer(source, "cpu").render(Timeline.from_seeds([1, 2], frames_between=2))
print(json.dumps({"optimizers": built, "built_for_training": model.built_for_training,
                  "dynamo": "torch._dynamo" in sys.modules}))
"""


def test_loading_a_run_to_sample_imports_no_dynamo(trained_run):
    done = subprocess.run([sys.executable, "-c", SAMPLE_IN_A_FRESH_PROCESS, str(trained_run)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"optimizers": [], "built_for_training": False, "dynamo": False}
