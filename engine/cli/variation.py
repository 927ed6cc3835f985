"""`sample RUN --from-image a.png --strength 0.5 --n 16 --out grid.png|DIR/`:
variations of the user's picture by a diffusion or flow model (SDEdit), one per
seed, as a grid or one PNG per seed, each recording the source picture's digest,
the strength, its seed, the sampler steps and the guidance."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.cli.sampler_options import sampler_choice
from engine.errors import ConfigError

DEFAULT_STRENGTH = 0.5


def run_variations(args: argparse.Namespace) -> int:
    from engine.media.images import make_grid
    from engine.studio.export import save_png
    from engine.studio.sampling import seeds_from
    from engine.studio.variation import VariationMaker, check_strength

    if args.truncation is not None or args.temperature != 1.0:
        raise ConfigError("--from-image varies a picture; --temperature and --truncation "
                          "apply to sampling from seeds alone")
    strength = check_strength(DEFAULT_STRENGTH if args.strength is None else args.strength)
    picture = Path(args.from_image).expanduser()
    if not picture.is_file():
        raise ConfigError(f"{args.from_image}: no such picture file")
    seeds = seeds_from(args.seed, args.n)
    labels = None if args.label is None else [args.label]
    result = VariationMaker(args.run, args.device).vary(picture, strength, seeds, labels,
                                                        **sampler_choice(args))
    out = Path(args.out)
    if args.out.endswith(("/", "\\")) or out.is_dir():
        written = [str(save_png(image, out / f"seed_{seed:06d}.png", args.scale,
                                result.tile_provenance(i)))
                   for i, (seed, image) in enumerate(zip(seeds, result.images))]
    else:
        written = [str(save_png(make_grid(result.images), out, args.scale, result.provenance))]
    sampler = {k: result.provenance[k] for k in ("sampler_steps", "guidance")
               if k in result.provenance}
    if args.json:
        print(json.dumps({"files": written, "seeds": seeds, "strength": strength,
                          "input": result.provenance["input"], **sampler}), flush=True)
    else:
        print(f"wrote {len(written)} file(s) of variations of {picture.name} at strength "
              f"{strength:g}: {written[0]}" + (" ..." if len(written) > 1 else ""), flush=True)
    return 0
