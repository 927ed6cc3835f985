"""`animate` and `keyframes`: the CLI side of the animation studio.

    animate RUN --kind interpolate --seeds 1,7,42 --frames-between 24 --loop \
            --ease in-out --format gif --scale 4 --out walk.gif
    animate RUN --kind interpolate --from walk.gif --format mp4 --out walk.mp4
    animate RUN --kind timelapse --tiles 0,9 --out lapse.webp
    animate RUN --out draw.gif      # row-lstm, draw, convlstm: their own process by default
    animate RUN --kind continue --input anim.gif --frames 20 --out more.gif   # convlstm
    animate RUN --kind morph --input a.png,b.png,c.png --frames-between 24 --loop --out m.gif  # VAEs
    animate RUN --kind process --sampler-steps 30 --out denoise.gif   # ddpm, flow: from noise
    animate RUN --kind process --show-prediction --out guess.gif      # each step's clean guess
    animate RUN --kind morph --input a.png,b.png --loop --out m.gif   # ddpm, flow: by inversion
    animate --kind flipbook --input picture.png --frames 16 --out book.gif   # no run: one picture
    keyframes walk.gif          # the keyframes and provenance an export carries
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.cli.sampler_options import given, sampler_choice
from engine.errors import ConfigError

KINDS = ("timelapse", "interpolate", "process", "continue", "morph", "flipbook")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def add_parsers(sub: Any) -> None:
    from engine.studio.exporters import FORMATS
    from engine.studio.exporters.common import PALETTES
    from engine.studio.keyframes import EASINGS, INTERPOLATIONS

    p = sub.add_parser("animate", help="export an animation of a run (walk, time-lapse, process)")
    p.add_argument("run", nargs="?", default=None,
                   help="run directory, or a model bundle for interpolate and process "
                        "(none for flipbook)")
    p.add_argument("--kind", choices=KINDS, default=None,
                   help="default: the model's own process where it has one (row-lstm, draw, "
                        "convlstm, ddpm, flow), else timelapse")
    p.add_argument("--out", required=True, help="file to write (a folder for --format frames)")
    p.add_argument("--format", choices=list(FORMATS), default=None,
                   help="default: from the --out name (.gif, .png = apng, .webp, .mp4, no suffix = frames)")
    walk = p.add_argument_group("interpolate (latent walk) and morph")
    walk.add_argument("--seeds", type=_int_list, default=None, help="keyframe seeds, e.g. 1,7,42")
    walk.add_argument("--labels", type=_int_list, default=None,
                      help="a class per keyframe for conditional models (others ignore it); "
                           "process: the one class to show")
    walk.add_argument("--from", dest="from_file", default=None,
                      help="take the keyframes and settings from an exported file")
    walk.add_argument("--frames-between", type=int, default=None, help="frames between keyframes (default 24)")
    walk.add_argument("--ease", choices=EASINGS, default=None, help="default: linear (in-out for a morph)")
    walk.add_argument("--interpolation", choices=INTERPOLATIONS, default=None,
                      help="slerp (default; right for Gaussian latents) or lerp (a morph's default)")
    walk.add_argument("--loop", action=argparse.BooleanOptionalAction, default=None,
                      help="walk back to the first keyframe for a seamless loop")
    p.add_argument("--tiles", type=_int_list, default=None,
                   help="timelapse: only these tiles (0-63) of the sample grid; default the whole grid")
    p.add_argument("--seed", type=int, default=0, help="process: the seed to show; flipbook: its seed")
    p.add_argument("--show-prediction", action=argparse.BooleanOptionalAction, default=None,
                   help="process (ddpm, flow): each frame shows the finished picture the model "
                        "predicts at that step, instead of the noisy picture it has so far")
    p.add_argument("--input", default=None,
                   help="continue: the animation to continue (GIF, frame folder, video); "
                        "morph: two or more pictures, comma-separated (a.png,b.png); "
                        "flipbook: the one picture")
    p.add_argument("--frames", type=int, default=20,
                   help="continue: frames to add; flipbook: frames made (before cross-fades)")
    from engine.cli.sampler_options import add_sampler_arguments
    add_sampler_arguments(p.add_argument_group(
        "diffusion and flow models (interpolate, process and morph)"))
    out = p.add_argument_group("output")
    out.add_argument("--fps", type=float, default=None, help="frames per second, 0.1 to 50 "
                     "(default 10 for a time-lapse, 24 otherwise)")
    out.add_argument("--scale", type=int, default=2, help="nearest-neighbour upscale factor")
    out.add_argument("--plays", type=int, default=0, help="times it plays; 0 = forever (GIF, APNG, WebP)")
    out.add_argument("--palette", choices=PALETTES, default="per-frame", help="GIF colour palette")
    out.add_argument("--dither", action="store_true", help="GIF: dither colour frames")
    out.add_argument("--crf", type=int, default=18, help="MP4 quality: 0 lossless .. 51 worst (default 18)")
    out.add_argument("--columns", type=int, default=None, help="sprite sheet: frames per row")
    out.add_argument("--estimate", action="store_true", help="print the estimated file size; write nothing")
    from engine.cli.remix import add_flipbook_arguments
    add_flipbook_arguments(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("keyframes", help="show the keyframes and provenance an exported file carries")
    p.add_argument("file", help="an exported GIF, PNG, APNG, WebP, MP4 or frame folder")
    p.add_argument("--json", action="store_true")


def _timeline(args: argparse.Namespace):
    from engine.studio.keyframes import Timeline

    settings = {"frames_between": args.frames_between, "ease": args.ease, "loop": args.loop,
                "interpolation": args.interpolation}
    settings = {k: v for k, v in settings.items() if v is not None}
    if args.from_file is not None:
        if args.seeds is not None:
            raise ConfigError("give --seeds or --from, not both")
        from engine.studio.exporters.provenance import read_timeline
        saved, _ = read_timeline(args.from_file)
        values = {**saved.to_dict(), **settings}
        if args.labels is not None:
            values["keyframes"] = [{**k, "label": lab} for k, lab in zip(values["keyframes"], args.labels)]
        return Timeline.from_dict(values)
    if args.seeds is None:
        raise ConfigError("--kind interpolate needs --seeds (e.g. --seeds 1,7,42) or --from FILE")
    return Timeline.from_seeds(args.seeds, labels=args.labels, **settings)


def run_animate(args: argparse.Namespace) -> int:
    from engine.studio.animation import process_frames, timelapse_frames, walk_frames
    from engine.studio.exporters import (ExportOptions, estimate_size, export_animation, format_for_path,
                                  human_size)
    from engine.studio.exporters.memory import check_export_memory, export_memory

    if args.kind == "flipbook":
        _check_process_flags(args)
        from engine.cli.remix import run_flipbook
        return run_flipbook(args)
    if args.run is None:
        raise ConfigError("animate needs a run folder or model bundle (only --kind flipbook "
                          "works from a picture alone)")
    if args.kind is None:
        from engine.studio.process_animation import default_kind
        args.kind = default_kind(args.run)
    fmt = args.format or format_for_path(args.out)
    options = ExportOptions(fps=args.fps if args.fps is not None else (10.0 if args.kind == "timelapse" else 24.0),
                            scale=args.scale, plays=args.plays, palette=args.palette,
                            dither=args.dither, crf=args.crf, columns=args.columns)
    options.validate()  # before any model work, so a typo fails at once
    _check_sampler_flags(args)
    _check_process_flags(args)
    flags = {"timelapse": "--scale or --tiles", "continue": "--scale or --frames",
             "process": "--scale"}.get(args.kind, "--scale or --frames-between")
    memory: dict[str, Any] = {}

    def budget(count: int, shape: tuple[int, int, int]) -> None:
        # Called before the first frame is made (walks and morphs) or before
        # the export (the rest, whose frames are few and already small).
        estimate = memory["estimate"] = export_memory(count, shape, fmt, options)
        limit = _limit()
        if not args.estimate:
            check_export_memory(estimate, flags)
        elif limit is not None and estimate.frames_bytes > limit:
            # Too many even to render for the file-size estimate.
            raise ConfigError(f"the {count:,} frames alone need {human_size(estimate.frames_bytes)} "
                              f"of memory, more than the {human_size(limit)} allowed; lower {flags}")

    result: dict[str, Any] = {}
    if args.kind == "timelapse":
        steps, frames = timelapse_frames(args.run, tiles=args.tiles)
        provenance = {"kind": "timelapse", "run": Path(args.run).name, "steps": steps,
                      **({"tiles": args.tiles} if args.tiles else {})}
        result["steps"] = steps
        text = f"{len(frames)} frames, steps {steps[0]}..{steps[-1]}"
    elif args.kind == "interpolate":
        timeline = _timeline(args)
        frames, provenance = walk_frames(args.run, timeline, device=args.device, budget=budget,
                                         **_walk_sampler(args))
        result["seeds"] = timeline.seeds
        text = f"{len(frames)} frames through seeds {', '.join(map(str, timeline.seeds))}" \
               + (", looping" if timeline.loop else "")
    elif args.kind == "continue":
        from engine.studio.process_animation import continue_animation
        if not args.input:
            raise ConfigError("--kind continue needs --input ANIMATION (a GIF, frame folder or video)")
        frames, provenance = continue_animation(args.run, args.input, args.frames, device=args.device)
        result.update(input_frames=provenance["input_frames"], added_frames=args.frames)
        text = f"{provenance['input_frames']} input + {args.frames} predicted frames"
    elif args.kind == "morph":
        frames, provenance = _morph(args, budget)
        result["inputs"] = provenance["inputs"]
        text = f"{len(frames)} frames morphing through {', '.join(provenance['inputs'])}" \
               + (", looping" if provenance["morph"]["loop"] else "")
    else:
        if args.labels is not None and len(args.labels) != 1:
            raise ConfigError("--kind process shows one seed: give one class (--labels 3)")
        shows = None if args.show_prediction is None else \
            ("prediction" if args.show_prediction else "sample")
        frames, provenance = process_frames(args.run, args.seed,
                                            None if args.labels is None else args.labels[0],
                                            device=args.device, shows=shows,
                                            **sampler_choice(args))
        text = f"{len(frames)} frames of {provenance['process']} for seed {args.seed}" \
               + (", showing each step's prediction" if shows == "prediction" else "")
    if "estimate" not in memory:
        budget(len(frames), frames[0].shape)
    if args.estimate:
        from engine.studio.exporters.memory import over_limit
        size, needs = estimate_size(frames, fmt, options), memory["estimate"]
        refused = over_limit(needs)
        limit = _limit()
        _emit(args, {"format": fmt, "frames": len(frames), "estimated_bytes": size,
                     "memory_bytes": needs.total_bytes, "memory_limit_bytes": limit,
                     "fits": refused is None},
              f"about {human_size(size)} as {fmt} ({len(frames)} frames); "
              + (f"needs {needs.describe()}" if refused is None
                 else f"{refused}, so it would be refused"))
        return 0
    path = export_animation(frames, args.out, fmt, options, provenance)
    record = {"file": str(path), "frames": len(frames), **result}
    if args.kind != "timelapse":  # the time-lapse keeps its original, smaller record
        record["format"] = fmt
    _emit(args, record, f"wrote {path} ({text})")
    return 0


def _limit() -> int | None:
    from engine.studio.exporters.memory import memory_limit
    limit = memory_limit()
    return None if limit is None else limit[0]


def _morph(args: argparse.Namespace, budget):
    from engine.studio.morph import morph_frames

    if args.from_file is not None or args.seeds is not None:
        raise ConfigError("--kind morph takes pictures (--input a.png,b.png), not --seeds or --from")
    if not args.input:
        raise ConfigError("--kind morph needs --input a.png,b.png[,c.png ...] (two or more pictures)")
    paths = [part.strip() for part in args.input.split(",") if part.strip()]
    return morph_frames(args.run, paths, labels=args.labels, device=args.device, budget=budget,
                        frames_between=args.frames_between, ease=args.ease, loop=args.loop,
                        interpolation=args.interpolation, **sampler_choice(args))


# Kinds whose frames come from the model's sampler, and so take --sampler-steps and --guidance.
SAMPLED_KINDS = ("interpolate", "process", "morph")


def _check_sampler_flags(args: argparse.Namespace) -> None:
    typed = given(args)
    if typed and args.kind not in SAMPLED_KINDS:
        verb = "apply" if len(typed) > 1 else "applies"
        raise ConfigError(f"{' and '.join(typed)} {verb} to --kind {', '.join(SAMPLED_KINDS)}, "
                          f"not {args.kind}")


def _check_process_flags(args: argparse.Namespace) -> None:
    if args.show_prediction is not None and args.kind != "process":
        raise ConfigError(f"--show-prediction applies to --kind process, not {args.kind}")


def _walk_sampler(args: argparse.Namespace) -> dict[str, Any]:
    """The sampler settings of a walk: the flags, else those an export given with
    --from was rendered with (so it renders the same frames again), when the run's
    model has them."""
    chosen = sampler_choice(args)
    if args.from_file is None or None not in chosen.values():
        return chosen
    from engine.models.base import GUIDANCE, STEPS
    from engine.studio.exporters.provenance import read_provenance
    from engine.studio.sampling import run_sampling_options

    saved, options = read_provenance(args.from_file), run_sampling_options(args.run)
    for key, field, capability in (("steps", "sampler_steps", STEPS),
                                   ("guidance", "guidance", GUIDANCE)):
        if chosen[key] is None and capability in options and field in saved:
            chosen[key] = saved[field]
    return chosen


def run_keyframes(args: argparse.Namespace) -> int:
    from engine.studio.exporters.provenance import NoKeyframesError, read_provenance, read_timeline
    from engine.storage.printable import printable

    info = read_provenance(args.file)
    try:
        timeline, _ = read_timeline(args.file)
        walk = timeline.to_dict()
    except NoKeyframesError as exc:   # a time-lapse or a morph: provenance, but no walk
        walk, reason = None, str(exc)
    # Invalid keyframes are an error (main prints it, exit status 1), not a listing.
    if args.json:
        print(json.dumps({"provenance": info, "timeline": walk}), flush=True)
        return 0
    # Everything below but the numbers comes from the file: shown without terminal escapes.
    def field(key: str, default: Any = None) -> str:
        text = str(info.get(key, default))
        return text if len(text) <= 120 else text[:120] + "..."

    lines = [f"{args.file}: {field('kind', 'image')} from run {field('run')} "
             f"(model {field('model', '?')}, step {field('step', '?')}, app {field('app_version')})"]
    if "source_sha256" in info:   # made from one picture (remix, flipbook), no run
        lines = [f"{args.file}: {field('kind')} of the picture {field('source')} (SHA-256 "
                 f"{field('source_sha256')}, seed {field('seed', '?')}, app {field('app_version')})"]
    if walk is None:
        lines.append(f"no keyframes: {reason}")
    else:
        seeds = ",".join(str(k["seed"]) for k in walk["keyframes"])
        lines.append(f"keyframes {seeds}; {walk['frames_between']} frames between, ease {walk['ease']}, "
                     f"{walk['interpolation']}{', loop' if walk['loop'] else ''}")
        lines.append(f"re-render: latent-atelier-cli animate RUN --kind interpolate --from {args.file} "
                     "--out OUT")
    for line in lines:
        print(printable(line), flush=True)
    return 0


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    print(json.dumps(record) if args.json else text, flush=True)
