"""Opt-in torch.compile (engine.runtime.compilation): used for training only, and any
failure falls back to eager training with a notice, exactly as an uncompiled run.

Real compilation takes tens of seconds on a CPU, so these tests stand in for
torch.compile; the one real compilation is marked slow.
"""
from __future__ import annotations

import math

import pytest
import torch

from engine.runtime.compilation import CompiledTraining
from engine.training.events import Finished, Notice
from engine.training import train

from tests.engine.test_model_families import batch, make
from tests.engine.test_training_resume import assert_same_weights


def notices(events) -> list[Notice]:
    return [e for e in events if isinstance(e, Notice) and e.kind == "compile-failed"]


def test_compile_failing_at_once_falls_back_with_a_notice(tiny_config, tmp_path, monkeypatch):
    list(train(tiny_config(steps=4), tmp_path / "eager"))

    def refuse(*args, **kwargs):
        raise RuntimeError("Compiler: cc not found")

    monkeypatch.setattr(torch, "compile", refuse)
    events = list(train(tiny_config(steps=4, compile=True), tmp_path / "compiled"))
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    [notice] = notices(events)
    assert "cc not found" in notice.message and "without it" in notice.message
    assert_same_weights(tmp_path / "eager", tmp_path / "compiled")


def test_the_installed_app_trains_eagerly_and_says_it_cannot_compile(tiny_config, tmp_path,
                                                                    monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("torch.compile was called")

    monkeypatch.setattr(torch, "compile", never)
    monkeypatch.setattr("sys.frozen", True, raising=False)
    events = list(train(tiny_config(steps=2, compile=True), tmp_path / "frozen"))
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    [notice] = notices(events)
    assert notice.message.startswith("Training without torch.compile: the installed app "
                                     "cannot compile")
    assert "failed" not in notice.message     # nothing was attempted


def fails_on_call(number: int):
    """A torch.compile whose compiled functions run eagerly until the `number`-th
    call of any of them, which raises as a backend failure would."""
    calls = []

    def compile_(fn, **kwargs):
        def compiled(*args, **kw):
            calls.append(1)
            if len(calls) == number:
                raise RuntimeError("BackendCompilerFailed: unsupported operator")
            return fn(*args, **kw)
        return compiled

    return compile_, calls


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp"])
def test_compile_failing_mid_step_restores_the_state_and_trains_eagerly(
        tiny_config, tmp_path, monkeypatch, model):
    list(train(tiny_config(model=model, steps=4), tmp_path / "eager"))
    # The 4th compiled call is, for dcgan, the generator step's discriminator
    # pass: by then the discriminator has stepped and the noise has moved on;
    # both must come back. For wgan-gp it is the gradient penalty's pass.
    compile_, calls = fails_on_call(4)
    monkeypatch.setattr(torch, "compile", compile_)
    events = list(train(tiny_config(model=model, steps=4, compile=True), tmp_path / "compiled"))
    assert len(calls) == 4   # nothing ran compiled after the failure
    assert len(notices(events)) == 1 and "unsupported operator" in notices(events)[0].message
    assert_same_weights(tmp_path / "eager", tmp_path / "compiled")


def test_compiled_forwards_train_and_sampling_stays_eager(monkeypatch):
    compile_, calls = fails_on_call(-1)   # never fails
    monkeypatch.setattr(torch, "compile", compile_)
    eager, compiled = make("small-data-gan", seed=3), make("small-data-gan", seed=3)
    wrapper = CompiledTraining(compiled)
    assert wrapper.active and wrapper.failure is None
    # The EMA generator is never trained, so it is not compiled.
    assert "forward" in vars(compiled.generator) and "forward" not in vars(compiled.generator_ema)
    images, labels = batch(eager)
    eager.train_step(images, labels)
    losses = wrapper.run(lambda: compiled.train_step(images, labels), tuple(images.shape))
    assert calls and all(math.isfinite(float(v)) for v in losses.values())
    trained = len(calls)
    assert torch.equal(eager.sample([0, 1]), compiled.sample([0, 1]))
    assert len(calls) == trained   # sampling used the eager forward
    assert set(compiled.generator.state_dict()) == set(eager.generator.state_dict())


@pytest.mark.slow
def test_real_compilation_trains_like_eager(tiny_config, tmp_path, monkeypatch):
    import torch._inductor.config as inductor_config

    # Compile in this thread: inductor's compile thread pool outlives the test.
    monkeypatch.setattr(inductor_config, "compile_threads", 1)
    events = list(train(tiny_config(model="mlp-vae", steps=3, compile=True), tmp_path / "run"))
    assert isinstance(events[-1], Finished) and not notices(events)
