"""The sampler flags of `sample` and `animate` for models with an iterative
sampler (diffusion, flow): how many steps from noise to picture, and the
classifier-free guidance scale. Other models refuse them with one clear line."""
from __future__ import annotations

import argparse
from typing import Any


def add_sampler_arguments(parser: argparse.ArgumentParser | Any) -> None:
    """--sampler-steps and --guidance (None: the run's own defaults)."""
    parser.add_argument("--sampler-steps", type=int, default=None, metavar="N",
                        help="diffusion and flow models: sampler steps from noise to picture, "
                             "1-1000; fewer are faster and coarser (default: the run's own, "
                             "e.g. 20)")
    parser.add_argument("--guidance", type=float, default=None, metavar="W",
                        help="class-conditional diffusion and flow models: classifier-free "
                             "guidance scale, 0-20; 0 ignores the class, 1 is the plain "
                             "conditional model, above 1 holds closer to it (default: the "
                             "run's own, e.g. 2)")


def sampler_choice(args: argparse.Namespace) -> dict[str, Any]:
    """steps= and guidance= for the studio's functions."""
    return {"steps": args.sampler_steps, "guidance": args.guidance}


def given(args: argparse.Namespace) -> list[str]:
    """The sampler flags the user typed, by name."""
    return [flag for flag, value in (("--sampler-steps", args.sampler_steps),
                                     ("--guidance", args.guidance)) if value is not None]
