"""`remix` and `animate --kind flipbook`: new pictures from one picture, no training.

    remix PICTURE --n 16 --size 384x256 [--tile] [--seed S] [--diversity D] --out DIR/|grid.png
    remix PICTURE --size 512x512 --estimate          # how long and how much memory, nothing made
    animate --kind flipbook --input PICTURE --frames 16 [--flip-mode independent|drift|walk]
            [--drift 0.3] [--crossfade 3] --out book.gif

Every PNG and animation records the source file's name and SHA-256, the
method and its settings, the size, tiling and seed (engine.studio.remix).
Ctrl-C stops between rounds of patch matching (exit status 130); the pictures
already written to a folder stay.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError

EXIT_STOPPED = 130


def _size(text: str) -> tuple[int, int]:
    from engine.studio.remix import parse_size
    try:
        return parse_size(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_method_arguments(p: Any) -> None:
    """What to make and how: shared by `remix` and `animate --kind flipbook`."""
    from engine.studio.gpnn import GpnnSettings

    defaults = GpnnSettings()
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="output width x height in pixels, e.g. 384x256 (default: the picture's "
                        "shape, longer side at most 256); another shape rearranges the picture's "
                        "content to fit (retargeting), it does not stretch it")
    p.add_argument("--tile", action="store_true",
                   help="seamless tiles: the picture wraps round, so copies side by side show no seam")
    p.add_argument("--diversity", type=float, default=None, metavar="D",
                   help=f"how far pictures stray from the source: the starting noise, 0-3 "
                        f"(default {defaults.diversity:g}; 0 keeps the source's layout)")
    p.add_argument("--patch-size", type=int, default=None, metavar="P",
                   help=f"side of the patches copied, odd, 3-15 (default {defaults.patch_size}); "
                        "larger keeps larger shapes whole")
    p.add_argument("--alpha", type=float, default=None,
                   help=f"completeness: lower uses more of the source (default {defaults.alpha:g}; "
                        "0: plain nearest patches)")
    p.add_argument("--iterations", type=int, default=None, metavar="T",
                   help=f"rounds of patch matching per coarse level (default {defaults.iterations})")
    p.add_argument("--allow-slow", action="store_true",
                   help="make sizes estimated to take over a minute or 2 GB per picture")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("remix", help="variations, any size, seamless tiles of one picture "
                                     "(patch nearest neighbours, no training)")
    p.add_argument("picture", help="a picture file (PNG, JPEG, WebP, TIFF, BMP, GIF)")
    p.add_argument("--n", type=int, default=16, help="number of pictures (default 16)")
    p.add_argument("--seed", type=int, default=0, help="first seed; picture i uses seed+i")
    add_method_arguments(p)
    p.add_argument("--out", default=None, help="grid.png, or FOLDER/ for one PNG per seed")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale of saved PNGs")
    p.add_argument("--estimate", action="store_true",
                   help="print how long and how much memory one picture takes; make nothing")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def add_flipbook_arguments(p: argparse.ArgumentParser) -> None:
    """animate's flip-book group (the picture is --input; --frames, --seed,
    --loop, --scale, --fps and --format are animate's own)."""
    from engine.studio.remix import FLIPBOOK_MODES, FlipbookSettings

    group = p.add_argument_group("flipbook (from one picture, no run: --input PICTURE)")
    defaults = FlipbookSettings()
    group.add_argument("--flip-mode", choices=list(FLIPBOOK_MODES), default=None,
                       help="; ".join(f"{k}: {v}" for k, v in FLIPBOOK_MODES.items())
                            + f" (default {defaults.mode})")
    group.add_argument("--drift", type=float, default=None,
                       help=f"drift: new noise per frame, above 0 to 3 (default {defaults.drift:g})")
    group.add_argument("--crossfade", type=int, default=None, metavar="K",
                       help=f"K blended frames between consecutive frames (default "
                            f"{defaults.crossfade}; 0: a cut)")
    add_method_arguments(group)


def _settings(args: argparse.Namespace, **base: Any):
    import dataclasses

    from engine.studio.gpnn import GpnnSettings

    given = {"diversity": args.diversity, "patch_size": args.patch_size, "alpha": args.alpha,
             "iterations": args.iterations}
    settings = dataclasses.replace(GpnnSettings(), **base,
                                   **{k: v for k, v in given.items() if v is not None})
    settings.validate()
    return settings


class _Bar:
    """'picture 3/16 [#####.....] 45%' on one terminal line; nothing when piped."""

    def __init__(self, enabled: bool, width: int = 24) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.width = width

    def update(self, event: Any) -> None:
        if self.enabled:
            filled = int(event.fraction * self.width)
            sys.stderr.write(f"\rpicture {event.picture + 1}/{event.pictures} "
                             f"[{'#' * filled}{'.' * (self.width - filled)}] {event.fraction:4.0%}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _stop_on_ctrl_c() -> tuple[Any, Any]:
    from engine.runtime.control import RunControl
    control = RunControl()
    previous = signal.signal(signal.SIGINT, lambda *_: control.stop())
    return control, previous


def _estimate_record(source: Any, size: tuple[int, int], settings: Any, tile: bool,
                     device: str, count: int) -> tuple[dict[str, Any], str]:
    from engine.studio.remix import (LIMIT_BYTES, LIMIT_SECONDS, estimate, remix_device,
                                     working_shape)

    found = estimate(working_shape(source, size), (size[1], size[0]), settings, tile,
                     source.pixels.shape[2], remix_device(device))
    fits = found.seconds <= LIMIT_SECONDS and found.bytes <= LIMIT_BYTES
    record = {"size": list(size), "seconds_per_picture": round(found.seconds, 2),
              "bytes_per_picture": found.bytes, "pictures": count,
              "seconds": round(found.seconds * count, 1), "device": found.device,
              "within_limits": fits}
    text = (f"{size[0]} x {size[1]}: {found.describe()}, {count} picture(s) in about "
            f"{found.seconds * count:.0f} s" + ("" if fits else "; over the limits, so it needs "
                                                "--allow-slow"))
    return record, text


def run_remix(args: argparse.Namespace) -> int:
    from engine.media.images import make_grid
    from engine.studio.export import save_png
    from engine.studio.remix import (RemixProgress, Variation, default_size, load_source,
                                     variations)

    if not 1 <= args.n <= 1024:
        raise ConfigError(f"--n must be from 1 to 1024, not {args.n}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, not {args.seed}")
    settings = _settings(args)
    if args.out is None and not args.estimate:
        raise ConfigError("remix needs --out grid.png or --out FOLDER/ (or --estimate)")
    source = load_source(args.picture)
    size = args.size or default_size(source)
    if args.estimate:
        record, text = _estimate_record(source, size, settings, args.tile, args.device, args.n)
        _emit(args, record, text)
        return 0
    seeds = list(range(args.seed, args.seed + args.n))
    out = Path(args.out).expanduser()
    folder = args.out.endswith(("/", "\\")) or out.is_dir()
    if not folder and out.suffix.lower() != ".png":
        raise ConfigError(f"--out {args.out}: give a .png file for a grid, or a folder ending in /")
    made: list[Any] = []
    written: list[str] = []
    bar = _Bar(not args.json)
    control, previous = _stop_on_ctrl_c()
    try:
        for event in variations(source, seeds, size, args.tile, settings, args.device, control,
                                args.allow_slow):
            if isinstance(event, RemixProgress):
                bar.update(event)
            elif isinstance(event, Variation):
                made.append(event)
                if folder:
                    written.append(str(save_png(event.image, out / f"seed_{event.seed:06d}.png",
                                                args.scale, event.provenance)))
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if control.stopped:
        sys.stderr.write(f"stopped; {len(written)} of {len(seeds)} picture(s) written\n")
        return EXIT_STOPPED
    if not folder:
        record = {k: v for k, v in made[0].provenance.items() if k != "seed"}
        written.append(str(save_png(make_grid(np.stack([v.image for v in made])), out, args.scale,
                                    {**record, "seeds": seeds})))
    result = {"files": written, "seeds": seeds, "size": list(size), "tile": bool(args.tile),
              "source_sha256": source.sha256, "seconds": [round(v.seconds, 3) for v in made],
              "moved_share": [round(v.moved_share, 3) for v in made]}
    _emit(args, result, f"wrote {len(written)} file(s) of {len(made)} picture(s) from "
                        f"{source.name} at {size[0]} x {size[1]}{', tiling' if args.tile else ''}: "
                        f"{written[0]}" + (" ..." if len(written) > 1 else ""))
    return 0


def run_flipbook(args: argparse.Namespace) -> int:
    """`animate --kind flipbook --input PICTURE`: frames made from the picture,
    exported through the animation exporters with provenance."""
    from engine.studio.exporters import ExportOptions, export_animation, format_for_path
    from engine.studio.exporters.memory import check_export_memory, export_memory
    from engine.studio.remix import (FlipbookSettings, Flipbook, RemixProgress, default_size,
                                     flipbook, load_source)

    if args.run is not None:
        raise ConfigError("--kind flipbook makes its frames from one picture (--input PICTURE), "
                          "not from a run")
    if not args.input:
        raise ConfigError("--kind flipbook needs --input PICTURE")
    fmt = args.format or format_for_path(args.out)
    options = ExportOptions(fps=args.fps if args.fps is not None else 8.0, scale=args.scale,
                            plays=args.plays, palette=args.palette, dither=args.dither,
                            crf=args.crf, columns=args.columns)
    options.validate()
    given = {"frames": args.frames, "mode": args.flip_mode, "drift": args.drift,
             "crossfade": args.crossfade, "loop": args.loop}
    flip = FlipbookSettings(**{k: v for k, v in given.items() if v is not None})
    flip.validate()
    settings = _settings(args)
    source = load_source(args.input)
    size = args.size or default_size(source)
    channels = source.pixels.shape[2]
    frames_out = flip.length()
    memory = export_memory(frames_out, (size[1], size[0], channels), fmt, options)
    if args.estimate:
        record, text = _estimate_record(source, size, settings, args.tile, args.device, flip.frames)
        record.update(format=fmt, frames=frames_out, export_memory_bytes=memory.total_bytes)
        _emit(args, record, f"{text}; the export needs {memory.describe()}")
        return 0
    check_export_memory(memory, "--scale, --frames or --crossfade")
    bar = _Bar(not args.json)
    control, previous = _stop_on_ctrl_c()
    book: Flipbook | None = None
    try:
        for event in flipbook(source, args.seed, flip, size, args.tile, settings, args.device,
                              control, args.allow_slow):
            if isinstance(event, RemixProgress):
                bar.update(event)
            else:
                book = event
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if book is None:
        sys.stderr.write("stopped; nothing written\n")
        return EXIT_STOPPED
    path = export_animation(book.frames, args.out, fmt, options, book.provenance)
    _emit(args, {"file": str(path), "frames": len(book.frames), "format": fmt,
                 "flicker": round(book.flicker, 2), "seconds": round(book.seconds, 2),
                 "source_sha256": source.sha256},
          f"wrote {path} ({len(book.frames)} frames of {source.name}, {flip.mode}; flicker "
          f"{book.flicker:.1f} levels per frame)")
    return 0


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    print(json.dumps(record) if args.json else text, flush=True)
