"""`sample RUN --reconstruct a.png [b.png ...] --out r.png`: a VAE's reconstructions
of the user's pictures, each original beside its reconstruction, with -ELBO in nats."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.errors import ConfigError


def run_reconstruct(args: argparse.Namespace) -> int:
    from engine.studio.export import save_png
    from engine.media.images import make_grid
    from engine.studio.reconstruction import reconstruct_files, side_by_side

    out = Path(args.out)
    if args.out.endswith(("/", "\\")) or out.is_dir():
        raise ConfigError(f"{args.out}: --reconstruct writes one PNG (originals beside "
                          "reconstructions); give a file name such as r.png")
    labels = None if args.label is None else [args.label]
    result = reconstruct_files(args.run, args.reconstruct, labels=labels, device=args.device)
    names = [Path(p).name for p in args.reconstruct]
    provenance = {"kind": "reconstruction", "run": Path(args.run).name, "inputs": names,
                  "neg_elbo": [round(v, 3) for v in result.neg_elbo],
                  **({"labels": list(result.labels)} if result.labels else {})}
    written = save_png(make_grid(side_by_side(result), columns=2), out, args.scale, provenance)
    if args.json:
        print(json.dumps({"file": str(written), "inputs": names, "neg_elbo": list(result.neg_elbo),
                          **({"labels": list(result.labels)} if result.labels else {})}), flush=True)
    else:
        for name, value in zip(names, result.neg_elbo):
            print(f"{name}: -ELBO {value:.1f} nats", flush=True)
        print(f"wrote {written} (each original beside its reconstruction)", flush=True)
    return 0
