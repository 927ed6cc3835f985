"""One process of the distributed tests' torchrun job (tests/engine/test_distributed.py).

Every process runs the same `train` commands through the CLI's main(), as
`python -m engine train` would under torchrun: rank 0 trains and writes, the
others follow. For the tests to compare, each process records, outside the
runs folder: every file it opened for writing inside it (an audit hook), and
its networks' final weights after each command.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        tests/engine/distributed_worker.py DATA_FOLDER WORK_FOLDER
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# The commands each scenario runs, in order; DATA and RUNS are filled in below.
TINY = ["--width", "8", "--batch-size", "8", "--no-preset", "--data", "idx:{DATA}"]
SCENARIOS = {
    # A run straight to step 4, and the same run stopped at step 2 and resumed.
    "whole": [["train", "--model", "dcgan", "--steps", "4", "--out", "{RUNS}/whole", *TINY]],
    "split": [["train", "--model", "dcgan", "--steps", "2", "--out", "{RUNS}/split", *TINY],
              ["train", "--resume", "{RUNS}/split", "--steps", "4"]],
    # The gradient penalty's double backward and the two networks' steps.
    "wgan-gp": [["train", "--model", "wgan-gp", "--steps", "3", "--out", "{RUNS}/wgan-gp", *TINY]],
    # A generator EMA, spectral norm (its vectors are buffers) and DiffAugment.
    "small-data-gan": [["train", "--model", "small-data-gan", "--steps", "3",
                        "--out", "{RUNS}/small-data-gan", *TINY]],
}
# Every other family that declares DISTRIBUTED, two steps each (the slow test).
SMALL = ["--steps", "2", "--batch-size", "4", "--no-preset", "--data", "idx:{DATA}"]
FAMILIES = {
    "conv-cvae": ["--width", "8"],
    "row-lstm": ["--width", "8", "--set", "layers=1"],
    "draw": ["--set", "steps=2", "--set", "latent_dim=4"],
    "ddpm": ["--width", "8", "--set", "depth=2", "--set", "blocks=1"],
    "flow": ["--width", "8", "--set", "depth=2", "--set", "blocks=1"],
    "convlstm": ["--width", "8", "--set", "layers=1", "--set", "context_frames=2",
                 "--set", "future_frames=1", "--data", "moving-mnist?count=16&seed=1"],
}
SCENARIOS.update({name: [["train", "--model", name, "--out", f"{{RUNS}}/{name}", *SMALL, *extra]]
                  for name, extra in FAMILIES.items()})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def main(data: Path, work: Path, names: list[str]) -> int:
    import torch
    from safetensors.torch import save_file

    from engine.cli.main import main as cli
    from engine.training.session import TrainingSession

    rank = int(os.environ["RANK"])
    runs, reports = work / "runs", work / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    writes: list[str] = []

    def audit(event: str, args: tuple) -> None:
        # Every file this process opens for writing in the runs folder.
        if event == "open" and isinstance(args[0], (str, Path)) and args[2] is not None \
                and (args[2] & WRITE_FLAGS or (args[1] and set(args[1]) & set("wax+"))):
            path = str(args[0])
            if path.startswith(str(runs)):
                writes.append(path)
        elif event in ("os.mkdir", "os.rename", "os.replace", "os.remove", "shutil.rmtree") \
                and str(args[0]).startswith(str(runs)):
            writes.append(f"{event} {args[0]}")

    sys.addaudithook(audit)
    sessions: list[TrainingSession] = []
    distribute = TrainingSession.distribute

    def kept(session: TrainingSession) -> None:
        sessions.append(session)
        distribute(session)

    TrainingSession.distribute = kept   # the test reads each process's final weights
    codes = {}
    for name in names:
        for command in SCENARIOS[name]:
            argv = [part.replace("{DATA}", str(data)).replace("{RUNS}", str(runs))
                    for part in command]
            codes.setdefault(name, []).append(cli(argv))
        model = sessions[-1].model
        tensors = {f"{net}.{key}": value.detach().cpu().contiguous()
                   for net, module in model.networks().items()
                   for key, value in module.state_dict().items()}
        save_file(tensors, str(reports / f"{name}-rank{rank}.safetensors"))
    (reports / f"rank{rank}.json").write_text(json.dumps({"writes": writes, "codes": codes,
                                                          "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2]),
                          sys.argv[3:] or [name for name in SCENARIOS if name not in FAMILIES]))
