#!/usr/bin/env python3
"""Train the shipped MNIST evaluator (resources/evaluator/mnist_evaluator.safetensors).

    python tools/train_evaluator.py [--epochs 3] [--seed 0] [--threads 2] [--out PATH]

Deterministic on the CPU for a given seed and thread count: the weights, the
augmentation and the data order all come from seeded generators. Trains on the
60,000 MNIST training images with small random affine jitter (shift, rotation,
scale), then measures accuracy on the 10,000 test images and writes the weights
with that accuracy, the command and the settings in the file's metadata.
"""
from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import __version__  # noqa: E402
from engine.storage.atomic import atomic_write  # noqa: E402
from engine.data import load_data  # noqa: E402
from engine.metrics.evaluator import (EVALUATOR_NAME, MnistEvaluator,  # noqa: E402
                                      evaluator_metadata_json, evaluator_path)


def to_unit_range(images_uint8: torch.Tensor) -> torch.Tensor:
    return images_uint8.float().div(127.5).sub(1)


def jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random affine per image: shift up to 2 px, rotate up to 10 deg, scale 0.9-1.1."""
    n = x.shape[0]
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = u[:, 0] * math.radians(10)
    scale = 1 + 0.1 * u[:, 1]
    shift = u[:, 2:] * (2 / 14)  # 2 px in normalised [-1, 1] coordinates of 28 px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Padding with -1 (black) keeps the background the data's own.
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


@torch.inference_mode()
def accuracy(net: MnistEvaluator, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    correct = 0
    for i in range(0, len(images), 1000):
        correct += (net(to_unit_range(images[i:i + 1000])).argmax(1) == labels[i:i + 1000]).sum().item()
    return correct / len(images)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads; results are bit-identical for a fixed count")
    p.add_argument("--out", default=str(evaluator_path()))
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train, test = load_data("mnist", "train"), load_data("mnist", "test")
    x_train = torch.from_numpy(train.images.copy())
    y_train = torch.from_numpy(train.labels.astype("int64"))
    x_test = torch.from_numpy(test.images.copy())
    y_test = torch.from_numpy(test.labels.astype("int64"))

    net = MnistEvaluator().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = len(x_train) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr,
                                                total_steps=args.epochs * steps_per_epoch)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = jitter(to_unit_range(x_train[idx]), gen)
            loss = F.cross_entropy(net(x), y_train[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / steps_per_epoch:.4f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    test_acc = accuracy(net, x_test, y_test)
    train_acc = accuracy(net, x_train[:10000], y_train[:10000])
    print(f"test accuracy {test_acc:.4f}, train accuracy (first 10,000) {train_acc:.4f}, "
          f"{seconds:.0f} s", flush=True)

    command = ("python tools/train_evaluator.py --epochs {e} --batch-size {b} --lr {lr} "
               "--seed {s} --threads {t}").format(e=args.epochs, b=args.batch_size, lr=args.lr,
                                                  s=args.seed, t=args.threads)
    meta = evaluator_metadata_json(
        network=EVALUATOR_NAME, data="mnist", test_accuracy=round(test_acc, 4),
        train_accuracy_first_10000=round(train_acc, 4), command=command, seed=args.seed,
        epochs=args.epochs, threads=args.threads, training_seconds=round(seconds, 1),
        torch_version=torch.__version__, app_version=__version__,
        python=platform.python_version(), input="1x28x28 float in [-1, 1]",
        features="128-d ReLU penultimate layer")
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: save_file(state, str(tmp), metadata=meta))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
