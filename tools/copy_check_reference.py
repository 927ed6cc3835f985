"""Reference values of eval's copy check (engine/metrics/memorisation.py) on
real MNIST with the shipped evaluator: what "new pictures" and "copies" score.

    python tools/copy_check_reference.py [--data mnist] [--count 1000]

Each row treats a set of real pictures as if a model had drawn them and runs
the check against the training set exactly as `eval` does: test digits (new
pictures by other writers), training digits themselves (exact copies),
training digits shifted by one pixel (near copies), and test digits blurred.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from engine.data import load_data
from engine.metrics.features import make_extractor
from engine.metrics.memorisation import describe, memorisation, training_subset


def features(extractor, images: np.ndarray, batch: int = 500) -> np.ndarray:
    out = []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(np.array(images[start:start + batch])).float().div(127.5).sub(1)
        out.append(extractor(x)[0])
    return np.concatenate(out)


def blurred(images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.array(images)).float()
    return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1,
                                          count_include_pad=False).round().byte().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--count", type=int, default=1000, help="pictures per row")
    args = parser.parse_args()
    train = load_data(args.data, "train", size=28)
    test = load_data(args.data, "test", size=28)
    extractor = make_extractor("auto", train.channels, torch.device("cpu"))
    started = time.perf_counter()
    training_images = train.images[training_subset(len(train))]
    training = features(extractor, training_images)
    print(f"training features: {len(training):,} pictures in {time.perf_counter() - started:.1f} s")
    rng = np.random.default_rng(0)
    picked = rng.choice(len(training_images), args.count, replace=False)
    rows = {
        "test digits (new pictures)": test.images[:args.count],
        "training digits (exact copies)": training_images[picked],
        "training digits shifted 1 px (near copies)": np.roll(training_images[picked], 1, axis=-1),
        "test digits blurred 3x3": blurred(test.images[:args.count]),
    }
    for name, images in rows.items():
        t0 = time.perf_counter()
        result = memorisation(features(extractor, images), training).scores()
        print(f"{name}: ratio {result['memorisation_ratio']:.2f}, close "
              f"{result['memorisation_close_fraction']:.3f}, memorisation score "
              f"{result['memorisation_score']:.3f} ({time.perf_counter() - t0:.1f} s)")
        print(f"    {describe(result)}")


if __name__ == "__main__":
    main()
