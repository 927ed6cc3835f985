#!/usr/bin/env python3
"""Diffusion training throughput: our loop beside a conventional one, same U-Net.

    python benchmarks/diffusers_style_loop.py compare [--repeats 5] [--steps 20]
        [--threads 2] [--case mnist] [--case folder:PATH]
    python benchmarks/diffusers_style_loop.py loop|ours --data mnist [--steps 20] ...

`loop` is the conventional loop, written the way the diffusers example
`train_unconditional.py` trains (with plain PIL and torch in place of
torchvision, datasets and accelerate, which the app does not ship):

- a map-style dataset that makes each item a PIL image (decoded from its PNG
  file for a folder, as an image-folder dataset does) and applies the example's
  transforms per item: resize (bilinear), random crop, to-tensor, normalise to
  [-1, 1]; a shuffling DataLoader collates the batch;
- the scheduler's forward step: a timestep drawn uniformly from 1,000, the
  noisy picture sqrt(alpha_bar) x + sqrt(1 - alpha_bar) noise from the
  scheduler's table (cosine betas, "squaredcos_cap_v2"), the v-prediction
  target, MSE;
- AdamW (lr 1e-4, betas 0.95/0.999, weight decay 1e-6), the gradient norm
  clipped to 1, a cosine learning-rate schedule with warm-up stepped every
  step, and the EMA model's step (a Python loop over the parameters, with the
  example's inverse-gamma warm-up).

The U-Net is the app's own (engine/models/common/unet.py) with the same
settings on both sides, unconditional. `ours` runs the `ddpm` family's
training session (what `train` and `bench` use) with the trainer's cosine
learning-rate schedule. `compare` runs `ours` and `loop` in fresh processes,
alternating so both see the same machine state, and prints a Markdown table of
median images per second of wall time and of CPU time (the steadier measure
on a machine other jobs share).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST_TRAIN = ROOT / "resources" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# -- the conventional loop -------------------------------------------------------------
def _mnist_pictures() -> list:
    import numpy as np
    from PIL import Image
    with gzip.open(MNIST_TRAIN, "rb") as f:
        raw = f.read()
    count, rows, cols = np.frombuffer(raw, dtype=">i4", count=3, offset=4)
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    # A datasets-style source hands out PIL images.
    return [lambda i=i: Image.fromarray(images[i], mode="L") for i in range(count)]


def _folder_pictures(root: Path, channels: int) -> list:
    from PIL import Image
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"error: no pictures under {root}")
    mode = "RGB" if channels == 3 else "L"
    return [lambda p=p: Image.open(p).convert(mode) for p in paths]


class PictureDataset:
    """Per item: a PIL image, then the example's transforms (torchvision's
    Resize, RandomCrop, ToTensor, Normalize([0.5], [0.5]), written out)."""

    def __init__(self, pictures: list, size: int) -> None:
        self.pictures, self.size = pictures, size

    def __len__(self) -> int:
        return len(self.pictures)

    def __getitem__(self, index: int):
        import numpy as np
        import torch
        from PIL import Image
        picture = self.pictures[index]()
        scale = self.size / min(picture.size)
        if scale != 1:
            picture = picture.resize((max(self.size, round(picture.width * scale)),
                                      max(self.size, round(picture.height * scale))),
                                     Image.Resampling.BILINEAR)
        left = int(torch.randint(0, picture.width - self.size + 1, (1,)))
        top = int(torch.randint(0, picture.height - self.size + 1, (1,)))
        picture = picture.crop((left, top, left + self.size, top + self.size))
        array = np.array(picture, np.uint8)
        if array.ndim == 2:
            array = array[:, :, None]
        tensor = torch.from_numpy(array).permute(2, 0, 1).float().div(255)
        return {"input": (tensor - 0.5) / 0.5}


def _cosine_alphas_cumprod(timesteps: int = 1000):
    """The scheduler's alpha_bar table for "squaredcos_cap_v2" (betas capped at 0.999)."""
    import torch

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = torch.tensor([min(1 - alpha_bar((i + 1) / timesteps) / alpha_bar(i / timesteps), 0.999)
                          for i in range(timesteps)], dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0)


class EmaModel:
    """The example's EMAModel.step: decay warmed up as 1 - (1 + step / inv_gamma) ** -power."""

    def __init__(self, parameters, decay: float = 0.9999, inv_gamma: float = 1.0,
                 power: float = 0.75) -> None:
        self.shadow = [p.detach().clone() for p in parameters]
        self.decay, self.inv_gamma, self.power = decay, inv_gamma, power
        self.optimization_step = 0

    def step(self, parameters) -> None:
        import torch
        self.optimization_step += 1
        step = max(0, self.optimization_step - 1)
        value = 1 - (1 + step / self.inv_gamma) ** -self.power
        one_minus_decay = 1 - min(max(value, 0.0), self.decay)
        with torch.no_grad():
            for s_param, param in zip(self.shadow, parameters):
                if param.requires_grad:
                    s_param.sub_(one_minus_decay * (s_param - param))
                else:
                    s_param.copy_(param)


def run_loop(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F
    from engine.models.common.unet import UNet

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.data == "mnist":
        pictures, channels = _mnist_pictures(), 1
    elif args.data.startswith("folder:"):
        channels = 3
        pictures = _folder_pictures(Path(args.data.removeprefix("folder:")), channels)
    else:
        raise SystemExit(f"error: data must be mnist or folder:PATH, not {args.data}")
    loader = torch.utils.data.DataLoader(PictureDataset(pictures, args.image_size),
                                         batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, drop_last=True)
    model = UNet(channels, args.width, args.depth, args.blocks, 0, False, 0.0, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999),
                                  weight_decay=1e-6, eps=1e-8)
    total = args.warmup + args.steps
    warm = max(1, min(500, total // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: s / warm if s < warm else
                                                 0.5 * (1 + math.cos(math.pi * (s - warm)
                                                                     / max(1, total - warm))))
    ema = EmaModel(model.parameters())
    alphas_cumprod = _cosine_alphas_cumprod()

    def step(batch: dict) -> float:
        clean = batch["input"]
        noise = torch.randn(clean.shape)
        timesteps = torch.randint(0, 1000, (clean.shape[0],)).long()
        alpha = alphas_cumprod[timesteps].sqrt()[:, None, None, None]
        sigma = (1 - alphas_cumprod[timesteps]).sqrt()[:, None, None, None]
        noisy = alpha * clean + sigma * noise
        target = alpha * noise - sigma * clean          # v-prediction
        # The example's --mixed_precision (accelerate's autocast); "no" by default.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            output = model(noisy, timesteps.float() / 1000)
        loss = F.mse_loss(output.float(), target.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        ema.step(model.parameters())
        return loss.item()

    def batches():
        while True:
            yield from loader

    data = batches()
    model.train()
    result = _timed(lambda: step(next(data)), args)
    result["parameters"] = sum(p.numel() for p in model.parameters())
    return result


def _timed(step, args: argparse.Namespace) -> dict:
    """Images per second of wall time and of this process's CPU time over the
    timed steps. On a machine other jobs share, CPU time counts only the work
    (with one thread it is the time the step ran), so it is the steadier measure."""
    import torch
    for _ in range(args.warmup):
        step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = args.steps * args.batch_size
    return {"steps": args.steps, "seconds": wall, "cpu_seconds": cpu,
            "images_per_second": images / wall, "images_per_cpu_second": images / cpu,
            "torch_threads": torch.get_num_threads()}


def run_ours(args: argparse.Namespace) -> dict:
    """Our loop: the training session `train` and `bench` use (preloaded data,
    the ddpm family's train step), with the same U-Net, unconditional."""
    import torch
    from engine.runtime.cpu_threads import cpu_threads
    from engine.training import TrainConfig, TrainingSession
    from engine.training.schedule import apply_schedule
    config = TrainConfig(model="ddpm", data=args.data, image_size=args.image_size,
                         width=args.width, batch_size=args.batch_size, seed=args.seed,
                         device="cpu", threads=args.threads or None, precision=args.precision,
                         model_settings={"depth": args.depth, "blocks": args.blocks,
                                         "conditional": False})
    with cpu_threads(config.threads):
        session = TrainingSession(config)
        if args.layout == "channels_last":
            # The layout the CPU trained in before it went contiguous, for the record.
            model = session.model
            model.training_format = torch.channels_last
            model.unet.to(memory_format=torch.channels_last)
        optimizers = list(session.model.optimizers().values())
        total = args.warmup + args.steps
        done = [0]

        def step() -> None:
            # As the trainer does: the learning-rate schedule, then a step, then its loss.
            apply_schedule(optimizers, "cosine", done[0] / total)
            float(session.step()["loss"])
            done[0] += 1
        result = _timed(step, args)
    result["parameters"] = sum(p.numel() for p in session.model.unet.parameters())
    return result


# -- the comparison --------------------------------------------------------------------
CASES = {
    # data: (label, image size, width, depth, blocks) -- the CPU presets' U-Nets
    "mnist": ("MNIST 28 px grey, width 16, 3 levels, 1 block", 28, 16, 3, 1),
    "folder": ("colour set 32 px, width 24, 3 levels, 1 block", 32, 24, 3, 1),
}


def _case(data: str) -> tuple[str, int, int, int, int]:
    return CASES["mnist" if data == "mnist" else "folder"]


def _run_json(command: list[str]) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> int:
    rows, raw = [], {}
    precisions = args.precisions.split(",")
    for data in args.case or ["mnist"]:
        label, size, width, depth, blocks = _case(data)
        shape = ["--image-size", str(size), "--width", str(width), "--batch-size",
                 str(args.batch_size)]
        common = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
        threads = ["--threads", str(args.threads)] if args.threads else []
        arguments = ["--data", data, *shape, "--depth", str(depth), "--blocks", str(blocks),
                     *common, *threads]
        sides = [("ours", ["ours"]), ("conventional", ["loop"])]
        if args.before:
            sides.append(("ours channels_last", ["ours", "--layout", "channels_last"]))
        runs: dict[str, list[dict]] = {f"{side} {p}": [] for p in precisions
                                       for side, _ in sides}
        for _ in range(args.repeats):
            for precision in precisions:
                for side, command in sides:
                    runs[f"{side} {precision}"].append(_run_json(
                        [sys.executable, __file__, *command, *arguments, "--precision", precision]))
            print(f"{label}: " + ", ".join(
                f"{name} {r[-1]['images_per_second']:.1f}/s ({r[-1]['images_per_cpu_second']:.1f}"
                f"/CPU s)" for name, r in runs.items()), file=sys.stderr, flush=True)
        raw[label] = runs
        for precision in precisions:
            cells = []
            for key in ("images_per_second", "images_per_cpu_second"):
                o = statistics.median(r[key] for r in runs[f"ours {precision}"])
                c = statistics.median(r[key] for r in runs[f"conventional {precision}"])
                cells.append(f"{o:.1f} | {c:.1f} | {o / c:.2f}x")
            rows.append(f"| {label}, batch {args.batch_size}, {precision} | "
                        + " | ".join(cells) + " |")
            if args.before:
                before = statistics.median(r["images_per_cpu_second"]
                                           for r in runs[f"ours channels_last {precision}"])
                rows.append(f"| (ours before, trained channels_last, {precision}: "
                            f"{before:.1f} images per CPU s) | | | | | | |")
    print(f"Median of {args.repeats} runs, {args.steps} timed steps after {args.warmup} warm-up, "
          f"threads {args.threads or 'default'}.\n")
    print("| case | ours (img/s) | conventional (img/s) | ratio | ours (img/CPU s) | "
          "conventional (img/CPU s) | ratio |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps(raw))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    both = argparse.ArgumentParser(add_help=False)
    both.add_argument("--steps", type=int, default=20, help="timed steps")
    both.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    both.add_argument("--batch-size", type=int, default=64)
    both.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    one = argparse.ArgumentParser(add_help=False, parents=[both])
    one.add_argument("--data", default="mnist", help="mnist or folder:PATH")
    one.add_argument("--image-size", type=int, default=28)
    one.add_argument("--width", type=int, default=16)
    one.add_argument("--depth", type=int, default=3)
    one.add_argument("--blocks", type=int, default=1)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                     help="fp32, or bfloat16 autocast (weights stay float32)")
    loop = sub.add_parser("loop", parents=[one], help="the conventional loop alone (JSON)")
    loop.add_argument("--workers", type=int, default=0, help="DataLoader workers (the example's 0)")
    ours = sub.add_parser("ours", parents=[one], help="our loop alone (JSON)")
    ours.add_argument("--layout", default="auto", choices=("auto", "channels_last"),
                      help="the trained U-Net's memory layout (auto: the family's choice)")
    both_cmd = sub.add_parser("compare", parents=[both], help="ours beside the loop, alternating")
    both_cmd.add_argument("--repeats", type=int, default=5)
    both_cmd.add_argument("--case", action="append",
                          help="data: mnist or folder:PATH (repeatable; default mnist)")
    both_cmd.add_argument("--precisions", default="fp32",
                          help="comma-separated: fp32, bf16 (each compared on both sides)")
    both_cmd.add_argument("--before", action="store_true",
                          help="also our loop with the U-Net trained channels_last")
    args = parser.parse_args(argv)
    if args.command in ("loop", "ours"):
        sys.path.insert(0, str(ROOT))
        print(json.dumps(run_loop(args) if args.command == "loop" else run_ours(args)))
        return 0
    return compare(args)


if __name__ == "__main__":
    raise SystemExit(main())
