"""Did a GAN run collapse, or did its discriminator win? Measures a saved run.

    python tools/gan_health.py RUN [--n 500] [--data SPEC] [--json]

- diversity: N samples (seeds 0..N-1, the generator the gallery samples) and N
  real images in engine.metrics' random-network feature space: their mean
  pairwise distances and how many distinct real images are the samples'
  nearest neighbours (engine.metrics.diversity);
- the discriminator now: its accuracy telling the real images (logit > 0)
  from fresh samples of the raw (trained) generator (logit < 0);
- the discriminator over the run's last tenth of steps: mean loss, D(x) and
  D(G(z)) from the run's metrics log.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runs.bundles import load_model_from  # noqa: E402
from engine.data import load_data  # noqa: E402
from engine.data.batches import to_model_range  # noqa: E402
from engine.errors import AtelierError  # noqa: E402
from engine.metrics.diversity import diversity  # noqa: E402
from engine.metrics.features import RandomFeatures  # noqa: E402
from engine.runs.folders import RunDir  # noqa: E402


def last_steps(run: Path, fraction: float = 0.1) -> dict[str, float]:
    """Means of the discriminator's logged values over the run's last `fraction` of steps."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    records = [r for r in records if "discriminator" in r]
    tail = records[-max(1, int(len(records) * fraction)):]
    out = {"steps": float(tail[-1]["step"]), "from_step": float(tail[0]["step"])}
    for key in ("discriminator", "generator", "D(x)", "D(G(z))"):
        out[key] = float(np.mean([r[key] for r in tail if key in r]))
    return out


@torch.inference_mode()
def measure(run_dir: str, n: int, data_spec: str | None) -> dict[str, object]:
    device = torch.device("cpu")
    _, model = load_model_from(run_dir, device)
    config = RunDir(run_dir).read_config()
    size = model.config.image_size
    data = load_data(data_spec or config["data"]["spec"], size=size)
    pick = np.random.default_rng(0).permutation(len(data))[:n]
    reals = to_model_range(torch.from_numpy(data.images[pick]), size)
    labels = None
    if model.uses_labels:
        labels = torch.from_numpy(data.labels[pick].astype("int64"))
    samples = model.sample(list(range(n)))
    features = RandomFeatures(device)
    report = diversity(features(samples)[0], features(reals)[0])

    # The raw generator (what the discriminator trains against), fresh latents.
    for net in model.networks().values():
        net.eval()
    z = torch.randn(len(pick), model.config.latent_dim, generator=torch.Generator().manual_seed(1))
    fake_labels = labels if labels is not None else None
    onehot = model._onehot(fake_labels) if fake_labels is not None else None
    fakes = model.generator(z, onehot)
    real_logits = model.discriminator(reals, labels)
    fake_logits = model.discriminator(fakes, fake_labels)
    accuracy = float(((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()) / 2)
    return {"diversity": {"samples": report.samples, "reals": report.reals,
                          "sample_spread": report.sample_spread, "real_spread": report.real_spread,
                          "spread_ratio": report.spread_ratio,
                          "distinct_neighbours": report.distinct_neighbours,
                          "coverage": report.coverage, "line": report.line()},
            "discriminator_accuracy": accuracy,
            "real_logit_mean": float(real_logits.mean()),
            "fake_logit_mean": float(fake_logits.mean()),
            "last_steps": last_steps(Path(run_dir))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a GAN's run directory")
    parser.add_argument("--n", type=int, default=500, help="samples and real images (default 500)")
    parser.add_argument("--data", default=None, help="data spec (default: the run's own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = measure(args.run, args.n, args.data)
    except (AtelierError, OSError, KeyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if args.json:
        print(json.dumps(result))
        return 0
    tail = result["last_steps"]
    print(f"diversity: {result['diversity']['line']}")
    print(f"discriminator accuracy, real vs raw-generator samples: "
          f"{result['discriminator_accuracy']:.1%} (mean logits real {result['real_logit_mean']:.2f}, "
          f"fake {result['fake_logit_mean']:.2f})")
    print(f"last steps {tail['from_step']:.0f}-{tail['steps']:.0f}: discriminator loss "
          f"{tail['discriminator']:.3f}, D(x) {tail['D(x)']:.3f}, D(G(z)) {tail['D(G(z))']:.3f}, "
          f"generator loss {tail['generator']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
