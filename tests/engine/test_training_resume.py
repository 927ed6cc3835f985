"""Exact resume: stopping at step k and resuming to n equals one run to n, bit for bit on CPU."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.cli.main import EXIT_USAGE, main
from engine.runtime.control import RunControl
from engine.errors import ConfigError
from engine.training.events import Progress, Samples
from engine.models import model_names, model_spec
from engine.models.base import STEPS
from tests.engine.conftest import DENOISER_SETTINGS
from engine.runs.folders import RunDir
from engine.studio.sampling import sample_run
from engine.training import resume, train


def weights(run) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    folder = RunDir(run).weights_path("any").parent
    for path in sorted(folder.glob("*.safetensors")):  # every network and the trainer state
        out.update({f"{path.stem}.{k}": v for k, v in load_file(str(path)).items()})
    return out


def trainer_json(run) -> dict:
    return json.loads((RunDir(run).weights_path("any").parent / "trainer.json").read_text())


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


IMAGE_MODELS = [name for name in model_names() if model_spec(name).data_kind == "images"]


# Sequence models get the same check on sequence data in test_recurrent_resume.py.
@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_resume_equals_an_uninterrupted_run(tiny_config, tmp_path, model):
    # Iterative samplers at their smallest (tests/engine/conftest.py), or every
    # sample grid would take most of the test's time.
    small = ({"model_settings": DENOISER_SETTINGS} if STEPS in model_spec(model).capabilities
             else {})
    list(train(tiny_config(model=model, steps=10, **small), tmp_path / "straight"))
    # Stopped, not given a smaller budget: a learning-rate schedule follows the budget.
    control = RunControl()
    for event in train(tiny_config(model=model, steps=10, **small), tmp_path / "parts", control):
        if isinstance(event, Progress) and event.step >= 4:
            control.stop()
    events = list(resume(tmp_path / "parts", steps=10))
    assert events[0].start_step == 4 and events[-1].step == 10
    assert_same_weights(tmp_path / "straight", tmp_path / "parts")
    # Counters a family keeps beside its optimisers (a VAE's KL warm-up step) match too.
    assert trainer_json(tmp_path / "straight")["optimizers"] == \
        trainer_json(tmp_path / "parts")["optimizers"]
    seeds = list(range(8))
    np.testing.assert_array_equal(sample_run(tmp_path / "straight", seeds, device="cpu"),
                                  sample_run(tmp_path / "parts", seeds, device="cpu"))


def test_resume_after_a_stop_mid_run_crosses_an_epoch_exactly(tiny_config, tmp_path):
    # 64 images, batch 8: an epoch is 8 steps, so 13 steps cross one.
    list(train(tiny_config(steps=13), tmp_path / "straight"))
    control = RunControl()
    for event in train(tiny_config(steps=13), tmp_path / "stopped", control):
        if isinstance(event, Progress) and event.step >= 5:
            control.stop()
    assert 5 <= json.loads((tmp_path / "stopped" / "manifest.json").read_text())["step"] < 13
    list(resume(tmp_path / "stopped", steps=13))
    assert_same_weights(tmp_path / "straight", tmp_path / "stopped")


def test_the_per_step_losses_match_too(tiny_config, tmp_path):
    def losses(path):
        return [{k: v for k, v in r.items() if k not in ("elapsed", "images_per_second")}
                for r in RunDir(path).read_metrics()]

    list(train(tiny_config(steps=6, report_seconds=0.0), tmp_path / "straight"))
    list(train(tiny_config(steps=3, report_seconds=0.0), tmp_path / "parts"))
    list(resume(tmp_path / "parts", steps=6))
    assert losses(tmp_path / "straight") == losses(tmp_path / "parts")


def test_a_finished_run_resumed_with_the_same_budget_does_nothing(tiny_config, tmp_path):
    list(train(tiny_config(steps=3), tmp_path / "run"))
    before = weights(tmp_path / "run")
    events = list(resume(tmp_path / "run"))
    assert events[-1].step == 3 and events[-1].reason == "completed"
    assert not [e for e in events if isinstance(e, Progress)]
    after = weights(tmp_path / "run")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [e.step for e in events if isinstance(e, Samples)] == [3]


def test_resume_refuses_changes_that_would_break_the_run(tiny_config, tmp_path, h):
    list(train(tiny_config(steps=2), tmp_path / "run"))
    with pytest.raises(ConfigError, match="cannot change batch_size"):
        list(resume(tmp_path / "run", batch_size=16))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["model_config"]["width"] = 16
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="the model would change"):
        list(resume(tmp_path / "run", steps=4))


def test_resume_refuses_different_data(tiny_config, tmp_path, h):
    list(train(tiny_config(steps=2), tmp_path / "run"))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    other = tmp_path / "other-data"
    h.write_mnist_folder(other, n_train=32)
    config["train"]["data"] = f"idx:{other}"
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="the data changed"):
        list(resume(tmp_path / "run", steps=4))


def test_a_new_learning_rate_is_applied_and_recorded(tiny_config, tmp_path):
    list(train(tiny_config(steps=2), tmp_path / "run"))
    list(resume(tmp_path / "run", steps=4, learning_rate=1e-5))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["learning_rate"] == 1e-5 and config["train"]["steps"] == 4
    assert config["history"] == [{"resumed_at_step": 2,
                                  "changes": {"steps": 4, "learning_rate": 1e-5}}]
    trainer = json.loads((RunDir(tmp_path / "run").weights_path("generator").parent
                          / "trainer.json").read_text())
    assert {g["lr"] for o in trainer["optimizers"].values() for g in o["param_groups"]} == {1e-5}


def test_cli_steps_20_then_resume_to_40_equals_one_run_of_40(data_spec, tmp_path, capsys):
    tiny = ["--data", data_spec, "--width", "8", "--batch-size", "8", "--device", "cpu",
            "--seed", "4"]
    assert main(["train", *tiny, "--steps", "40", "--out", str(tmp_path / "one")]) == 0
    assert main(["train", *tiny, "--steps", "20", "--out", str(tmp_path / "two")]) == 0
    assert main(["train", "--resume", str(tmp_path / "two"), "--steps", "40"]) == 0
    assert "from step 20" in capsys.readouterr().out
    assert_same_weights(tmp_path / "one", tmp_path / "two")


def test_cli_resume_refuses_run_defining_settings(trained_run, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", str(trained_run), "--model", "mlp-gan", "--batch-size", "4"])
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--model, --batch-size cannot change" in err and err.count("\n") == 1


def test_cli_autosave_seconds(data_spec, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", data_spec, "--width", "8", "--batch-size", "8", "--device",
                 "cpu", "--steps", "3", "--autosave-seconds", "0", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["autosave_seconds"] == 0
    assert main(["train", "--data", data_spec, "--steps", "3", "--autosave-seconds", "-1",
                 "--out", str(tmp_path / "bad")]) == 1
    assert "autosave interval" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_a_run_from_a_device_this_machine_lacks_goes_on_with_a_notice(tiny_config, tmp_path):
    from engine.training.events import Notice

    run = tmp_path / "run"
    list(train(tiny_config(steps=2), run))
    config_path = run / "config.json"
    config = json.loads(config_path.read_text())
    config["train"]["device"] = "cuda:99"     # a GPU no machine here has
    config_path.write_text(json.dumps(config))
    events = list(resume(run, steps=3))
    [notice] = [e for e in events if isinstance(e, Notice)]
    assert notice.kind == "device-changed"
    assert notice.message.startswith("This run trained on cuda:99, which this computer does "
                                     "not have; it continues on ")
    assert events[-1].step == 3
    saved = json.loads(config_path.read_text())
    assert saved["train"]["device"] == "auto"
    assert saved["history"][-1]["changes"]["device"] == "auto"
    # Asked for explicitly, an impossible device is still refused.
    with pytest.raises(ConfigError, match="cuda:99"):
        list(resume(run, steps=4, device="cuda:99"))
