"""Training in several processes (engine.training.distributed): torchrun with
two gloo processes on the CPU.

The fast tests check the parts in this process. The others start torchrun
once for a module (distributed_worker.py runs every scenario's `train`
commands in the same two processes) and read what each process recorded; one
more test goes through `train --nproc 2`, the command a person types.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from filelock import FileLock
from safetensors.torch import load_file

from engine.cli.main import main
from engine.cli.processes import without_nproc
from engine.data.batches import DeviceBatcher
from engine.errors import ConfigError
from engine.models import model_spec, model_specs
from engine.models.base import DISTRIBUTED
from engine.models.registry import register_model, unregister_model
from engine.runs.checkpoints import current_checkpoint
from engine.training.distributed import (Launch, check_distributable, launched, process_device,
                                         stream_seed)
from tests.engine.distributed_worker import FAMILIES, SCENARIOS
from tests.engine.test_batches import ids, numbered_set
from tests.engine.toy_family import TOY

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("distributed_worker.py")
CPU = torch.device("cpu")
# Ended before pytest-timeout (300 s) would leave its processes behind; the job
# takes 30 s on a busy two-core machine.
JOB_SECONDS = 240


# -- the parts, in this process -------------------------------------------------------
def test_the_processes_batches_together_are_one_process_batch():
    data = numbered_set(40)
    alone = DeviceBatcher(data, 8, 28, CPU, seed=3)
    ranks = [DeviceBatcher(data, 4, 28, CPU, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for _ in range(12):   # several epochs: 40 images are 5 global batches of 8
        both = [ids(b.next_batch()) for b in ranks]
        assert not set(both[0]) & set(both[1])
        assert sorted(both[0] + both[1]) == sorted(ids(alone.next_batch()))
    assert ranks[0].epoch == ranks[1].epoch == alone.epoch == 3


def test_one_process_batches_are_unchanged_by_the_split():
    before = DeviceBatcher(numbered_set(), 8, 28, CPU, seed=5)
    one = DeviceBatcher(numbered_set(), 8, 28, CPU, seed=5, rank=0, world_size=1)
    for _ in range(10):
        assert ids(before.next_batch()) == ids(one.next_batch())


def test_a_batch_per_process_fits_the_data():
    assert DeviceBatcher(numbered_set(10), 8, 28, CPU, world_size=2).batch_size == 5
    with pytest.raises(ValueError, match="rank 2"):
        DeviceBatcher(numbered_set(10), 8, 28, CPU, rank=2, world_size=2)


def test_each_process_step_and_stream_has_its_own_seed():
    seeds = {stream_seed(0, rank, step, stream)
             for rank in range(4) for step in range(50) for stream in (0, 1)}
    assert len(seeds) == 400
    assert all(0 <= s < 2**63 for s in seeds)
    assert stream_seed(7, 1, 3, 0) == stream_seed(7, 1, 3, 0)


def test_torchrun_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert launched() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert launched() is None   # torchrun with one process: a plain run
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert launched() == Launch(rank=3, world_size=4, local_rank=1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match="rank 4 of 4"):
        launched()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigError, match="whole numbers"):
        launched()


def test_each_process_takes_its_device():
    assert process_device("cpu", 3) == CPU
    if not torch.cuda.is_available():
        assert process_device("auto", 1) == CPU
        with pytest.raises(ConfigError, match="not available"):
            process_device("cuda", 0)
    with pytest.raises(ConfigError, match="unknown device"):
        process_device("tpu", 0)


def test_nproc_leaves_the_command_handed_to_torchrun():
    argv = ["train", "--nproc", "2", "--steps", "3", "--np=4", "--npr", "2", "--no-preset"]
    assert without_nproc(argv) == ["train", "--steps", "3", "--no-preset"]


@pytest.fixture
def toy_model():
    register_model(TOY)
    yield TOY.name
    unregister_model(TOY.name)


def test_a_family_that_does_not_declare_it_is_refused(toy_model, tmp_path, capsys):
    with pytest.raises(ConfigError, match="toy cannot train in several processes"):
        check_distributable(toy_model)
    # At once, before torchrun starts anything.
    code = main(["train", "--nproc", "2", "--model", toy_model, "--steps", "2",
                 "--out", str(tmp_path / "run")])
    assert code == 1
    assert "toy cannot train in several processes" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_compile_is_refused_with_several_processes():
    with pytest.raises(ConfigError, match="--compile cannot go with several processes"):
        check_distributable("dcgan", compile=True)


def test_a_run_of_several_processes_resumes_in_one_and_says_so(tmp_path, data_spec):
    run = tmp_path / "run"
    assert main(["train", "--model", "dcgan", "--width", "8", "--batch-size", "8", "--steps",
                 "2", "--no-preset", "--data", data_spec, "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert "distributed" not in config   # a run of one process records nothing
    # As `train --nproc 2` would have written it:
    config["distributed"] = {"processes": 2, "backend": "gloo", "batch_per_process": 8}
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", str(run), "--steps", "3"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["history"][-1] == {"resumed_at_step": 2,
                                     "changes": {"steps": 3, "processes": 1}}
    assert config["distributed"] == {"processes": 1}


# -- two processes through torchrun -----------------------------------------------------
def _run_job(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`command` in its own process group, ended whole if it outlives JOB_SECONDS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=JOB_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"the torchrun job did not end in {JOB_SECONDS} s:\n{out[-4000:]}")
    return subprocess.CompletedProcess(command, process.returncode, out, "")


@pytest.fixture(scope="session")
def job(tmp_path_factory, idx_folder):
    """Every scenario of distributed_worker.py in one torchrun job of two
    processes, once for the whole session: pytest-xdist's workers share it
    (their temporary folders have one parent) and wait for the first."""
    shared = tmp_path_factory.getbasetemp().parent
    work, log = shared / "distributed-job", shared / "distributed-job.log"
    with FileLock(str(shared / "distributed-job.lock")):
        if not log.exists():
            done = _run_job([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", str(WORKER), str(idx_folder), str(work)],
                            ROOT)
            log.write_text(f"{done.returncode}\n{done.stdout}")
    code, output = log.read_text().split("\n", 1)
    assert code == "0", output[-4000:]
    reports = work / "reports"
    return {"runs": work / "runs", "reports": reports, "log": output,
            "ranks": [json.loads((reports / f"rank{r}.json").read_text()) for r in (0, 1)]}


def _weights(job, scenario: str, rank: int) -> dict[str, torch.Tensor]:
    return load_file(str(job["reports"] / f"{scenario}-rank{rank}.safetensors"))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_short_distributed_run(job):
    run = job["runs"] / "whole"
    config = json.loads((run / "config.json").read_text())
    assert config["distributed"] == {"processes": 2, "backend": "gloo", "batch_per_process": 8}
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 4 and all(np.isfinite(m["generator"]) for m in metrics)
    assert (run / "samples").is_dir() and current_checkpoint(run).name.startswith("step_000000004")
    assert "Training in 2 processes (gloo on cpu): batch 8 per process, 16 a step" in job["log"]
    assert all(r["codes"] == {"whole": [0], "split": [0, 0], "wgan-gp": [0],
                              "small-data-gan": [0]} for r in job["ranks"])


def test_rank_zero_alone_writes_the_run_folder(job):
    assert job["ranks"][1]["writes"] == []
    written = job["ranks"][0]["writes"]
    assert any("/whole/" in w for w in written) and any("/split/" in w for w in written)


def test_every_process_ends_with_the_same_weights(job):
    """Weights, EMA weights and spectral norm's vectors agree bit for bit. A
    batch norm's running statistics are each process's own since rank 0's came
    in at the last forward pass: train-mode passes never read them, and rank 0's
    are the ones saved and sampled with."""
    for scenario in ("whole", "split", "wgan-gp", "small-data-gan"):
        weights = [{k: v for k, v in _weights(job, scenario, rank).items()
                    if not k.endswith(("running_mean", "running_var"))} for rank in (0, 1)]
        assert len(weights[0]) > 6 and _same(*weights), scenario


def test_exact_resume_with_the_same_number_of_processes(job):
    whole = current_checkpoint(job["runs"] / "whole")
    split = current_checkpoint(job["runs"] / "split")
    assert whole.name[:14] == split.name[:14] == "step_000000004"
    files = sorted(p.name for p in whole.glob("*.safetensors"))
    assert files == sorted(p.name for p in split.glob("*.safetensors"))
    for name in files:   # weights, optimiser state, random states, data order: bit for bit
        assert _same(load_file(str(whole / name)), load_file(str(split / name))), name
    history = json.loads((job["runs"] / "split" / "config.json").read_text())["history"]
    assert history == [{"resumed_at_step": 2, "changes": {"steps": 4}}]


def test_wgan_gp_and_an_ema_generator_under_ddp(job):
    for scenario, networks in (("wgan-gp", {"generator", "discriminator"}),
                               ("small-data-gan", {"generator", "discriminator",
                                                   "generator_ema"})):
        weights = _weights(job, scenario, 0)
        assert {key.split(".")[0] for key in weights} == networks
        assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
        metrics = (job["runs"] / scenario / "metrics.jsonl").read_text().splitlines()
        assert json.loads(metrics[-1])["step"] == 3


@pytest.mark.slow   # three more processes start: 45 s on a busy two-core machine
def test_train_nproc_runs_torchrun_and_a_run_goes_on_in_one_process(tmp_path, data_spec):
    run = tmp_path / "run"
    done = _run_job([sys.executable, "-m", "engine", "train", "--nproc", "2", "--model",
                     "mlp-vae", "--batch-size", "8", "--steps", "3", "--no-preset",
                     "--data", data_spec, "--out", str(run)], tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "completed at step 3" in done.stdout
    assert json.loads((run / "config.json").read_text())["distributed"]["processes"] == 2
    # The same run, one process more steps: allowed, and in its history.
    assert main(["train", "--resume", str(run), "--steps", "5"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["history"][-1] == {"resumed_at_step": 3,
                                     "changes": {"steps": 5, "processes": 1}}
    assert config["distributed"] == {"processes": 1}


def test_the_scenarios_cover_every_family_that_declares_it():
    covered = {model_spec(command[command.index("--model") + 1]).family
               for commands in SCENARIOS.values() for command in commands if "--model" in command}
    assert covered == {s.family for s in model_specs() if DISTRIBUTED in s.capabilities}


@pytest.mark.slow   # six more families, each built and trained in two processes: about a minute
def test_every_family_that_declares_it_trains_in_two_processes(tmp_path, idx_folder):
    done = _run_job([sys.executable, "-m", "torch.distributed.run", "--standalone",
                     "--nproc-per-node", "2", str(WORKER), str(idx_folder), str(tmp_path),
                     *FAMILIES], ROOT)
    assert done.returncode == 0, done.stdout[-4000:]
    for name in FAMILIES:
        weights = [{k: v for k, v in load_file(str(tmp_path / "reports" /
                                                   f"{name}-rank{rank}.safetensors")).items()
                    if not k.endswith(("running_mean", "running_var"))} for rank in (0, 1)]
        assert _same(*weights), name
        assert json.loads((tmp_path / "runs" / name / "metrics.jsonl").read_text()
                          .splitlines()[-1])["step"] == 2
