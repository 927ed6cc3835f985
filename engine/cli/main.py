"""Headless entry point: `latent-atelier-cli` / `python -m engine`.

    train    train a model and write a run directory
    sample   generate images from a run (a grid, or one PNG per seed)
    animate  export an animation of a run: latent walk, time-lapse, process
    keyframes  show the keyframes and provenance of an exported file
    export   write a run's model as one shareable bundle file (.atelier.safetensors),
             or its picture-making network as an ONNX file (--format onnx)
    runs     list the runs in the runs folder: model, steps, last loss, state
    bench    measure training throughput
    data     load a data spec and report what it holds and what was skipped
    self-test  check the installation: train, sample, export a GIF, offline
    likelihood  a VAE run's test negative ELBO and importance-weighted NLL (nats/image)
    eval     score a run's current checkpoint (FD, KID, classes, likelihood)
    remix    variations, any size, seamless tiles of one picture (no training)
    nearest  a sample's nearest training pictures, by features and pixels: a copy?
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import sys
from pathlib import Path
from typing import Any

from engine import __version__

from engine.storage import safe_json
from engine.data import DATA_SOURCES
from engine.runtime.device import DEVICE_CHOICES
from engine.runtime.precision import PRECISION_CHOICES
from engine.errors import AtelierError
from engine.storage.printable import printable
from engine.models import model_names

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, not the whole usage
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


# Settings that define a run; `train --resume` refuses them (the run has its own).
RUN_DEFINING = {"model": "--model", "data": "--data", "image_size": "--image-size",
                "width": "--width", "batch_size": "--batch-size", "seed": "--seed", "out": "--out",
                "flip": "--flip", "translate": "--translate", "color_jitter": "--color-jitter",
                "model_settings": "--set"}


def _model_help() -> tuple[str, str, str]:
    """The --model, --image-size and --width help, from the registered model specs,
    so a new family shows up in them without editing this file."""
    # Not from TrainConfig: importing the trainer would slow every command's start.
    from engine.models import model_specs
    from engine.models.registry import BASE_IMAGE_SIZE, DEFAULT_MODEL

    specs = model_specs()
    base = BASE_IMAGE_SIZE
    larger = sorted({size for s in specs for size in s.image_sizes} - {base})
    sizes = f"{base} (default)" + (f"; {' or '.join(map(str, larger))} for the models that take "
                                    "them (see the README's model table)" if larger else "")
    wide = [s.name for s in specs if s.takes_width]
    widths = ("base channel width of the convolutional models (" + ", ".join(wide) + ")"
              if wide else "base channel width")
    return DEFAULT_MODEL, sizes, widths


def _add_training_settings(p: argparse.ArgumentParser) -> None:
    # Defaults are None here and filled from TrainConfig, so `--resume` can tell
    # a setting the user typed from one they left alone.
    default_model, sizes, widths = _model_help()
    p.add_argument("--model", choices=model_names(), default=None, help=f"default: {default_model}")
    p.add_argument("--data", default=None, help=f"data spec: {', '.join(DATA_SOURCES)} (default: mnist)")
    p.add_argument("--image-size", type=int, default=None, help=sizes)
    p.add_argument("--width", type=int, default=None, help=widths)
    p.add_argument("--batch-size", type=int, default=None, help="default: 64")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: the model's own, e.g. 2e-4 for GANs)")
    p.add_argument("--lr-schedule", choices=("auto", "constant", "cosine"), default=None,
                   help="learning rate over the budget: constant, cosine decay to 0, or auto "
                        "(the model's own: cosine for the MLP VAEs; default)")
    p.add_argument("--seed", type=int, default=None, help="default: 0")
    p.add_argument("--device", default=None, help=f"{', '.join(DEVICE_CHOICES)} or cuda:N (default: auto)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=None,
                   help="auto (default: bf16 or fp16 mixed precision on a GPU, fp32 elsewhere), "
                   "fp32, bf16 or fp16")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the networks for training (falls back to eager if it fails)")
    p.add_argument("--no-compile", dest="compile", action="store_false", default=None,
                   help="train without torch.compile (e.g. when resuming a compiled run)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the maths (default, or 0: one per core; 0 also takes "
                        "a resumed run back to that); fewer keeps the machine responsive, and "
                        "gives a benchmark an exact CPU budget")
    # Augmentation for small data sets; off by default (see engine.data.augment).
    p.add_argument("--flip", action="store_true", default=None, help="random horizontal flips")
    p.add_argument("--translate", type=float, default=None,
                   help="random shifts up to this fraction of the image side (e.g. 0.125)")
    p.add_argument("--color-jitter", type=float, default=None,
                   help="random brightness, contrast and saturation, strength 0-1 (e.g. 0.2)")
    p.add_argument("--no-data-cache", dest="data_cache", action="store_false", default=None,
                   help="decode a folder again instead of reusing the cached decoded set")
    p.add_argument("--set", dest="model_settings", action="append", metavar="NAME=VALUE",
                   default=None, help="a model setting, e.g. --set beta=4 --set warmup_steps=1000 "
                   "(repeatable; see docs/ARCHITECTURE.md for each family's settings)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="latent-atelier-cli", description="Latent Atelier, headless.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a model and write a run directory")
    _add_training_settings(p)
    p.add_argument("--steps", type=int, default=None,
                   help="the run's total step budget (also with --resume)")
    p.add_argument("--minutes", type=float, default=None,
                   help="time budget of this session (with --steps: first reached)")
    p.add_argument("--autosave-seconds", type=float, default=None,
                   help="save a checkpoint this often while training (default: 120)")
    p.add_argument("--keep-last", type=int, default=None,
                   help="checkpoints to keep, newest first (default: 2)")
    p.add_argument("--keep-best", metavar="NAME", default=None,
                   help="also keep the best checkpoint by this reported loss (lowest), or by "
                        "an evaluation metric (fd, kid, class_coverage, ...; needs "
                        "--eval-every-minutes or --eval-every-steps)")
    p.add_argument("--eval-every-minutes", type=float, default=None, metavar="M",
                   help="evaluate the model every M minutes of training (0: off)")
    p.add_argument("--eval-every-steps", type=int, default=None, metavar="N",
                   help="evaluate the model every N steps (0: off)")
    p.add_argument("--eval-samples", type=int, default=None, metavar="N",
                   help="generated images per evaluation while training (default: 2,000; "
                        "FD labelled FD@N)")
    p.add_argument("--from-best", metavar="METRIC", default=None,
                   help="with --resume: continue the run's best checkpoint by this metric "
                        "in a new run (--out, default: beside it)")
    p.add_argument("--resume", metavar="RUN", default=None,
                   help="continue a saved run exactly where it stopped")
    p.add_argument("--restart", metavar="RUN", default=None,
                   help="train a run that stopped before its first save again from step 0, "
                        "with its saved settings, in its own folder")
    p.add_argument("--sample-every", type=int, default=None, help="steps between sample grids")
    p.add_argument("--out", default=None, help="run directory to create (default: under the user's runs)")
    p.add_argument("--no-preset", dest="preset", action="store_false",
                   help="use the plain defaults instead of settings chosen for the data and "
                        "device (see engine/presets.py)")
    p.add_argument("--json", action="store_true", help="print one JSON object per event")
    from engine.cli.processes import add_nproc_argument
    add_nproc_argument(p)

    from engine.cli.sampler_options import add_sampler_arguments
    p = sub.add_parser("sample", help="generate images from a run or a model bundle")
    p.add_argument("run", help="run directory or model bundle (.atelier.safetensors)")
    p.add_argument("--n", type=int, default=64, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="first seed; image i uses seed+i")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale factor")
    p.add_argument("--device", default="auto")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="conditional models: the class of every image (default: seed mod classes)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="latent scale, below 1 for more typical images (default: 1)")
    p.add_argument("--truncation", type=float, default=None,
                   help="GANs: redraw latent components beyond this (e.g. 0.7; default: off)")
    p.add_argument("--out", required=True, help="grid.png, or FOLDER/ for one PNG per seed")
    p.add_argument("--reconstruct", nargs="+", metavar="IMAGE", default=None,
                   help="VAEs: reconstruct these pictures instead of sampling; --out shows each "
                        "beside its reconstruction, and -ELBO (nats) is printed")
    add_sampler_arguments(p)
    p.add_argument("--from-image", metavar="IMAGE", default=None,
                   help="diffusion and flow models: --n variations of this picture, one per "
                        "seed, instead of sampling from noise")
    p.add_argument("--strength", type=float, default=None,
                   help="with --from-image: how far each variation may move from the picture, "
                        "0 (the picture itself) to 1 (a new picture; default 0.5)")
    p.add_argument("--json", action="store_true")

    from engine.cli.animate import add_parsers as add_animation_parsers
    add_animation_parsers(sub)   # animate, keyframes

    p = sub.add_parser("export", help="write a run's model as one shareable bundle file, or as "
                                      "an ONNX file for other tools (--format onnx)")
    p.add_argument("run", help="run directory (with --format onnx also a model bundle)")
    p.add_argument("--out", required=True, help="file to write, e.g. digits.atelier.safetensors "
                                                "or digits.onnx")
    p.add_argument("--format", choices=["bundle", "onnx"], default=None,
                   help="bundle: the whole model for this app; onnx: the network that makes the "
                        "pictures, for other runtimes (docs/ONNX.md). Default: onnx for an --out "
                        "ending in .onnx, else bundle")
    p.add_argument("--best", metavar="METRIC", default=None,
                   help="export the run's best checkpoint by this evaluation metric (fd, kid, ...)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("runs", help="list runs: model, data, steps, last loss, state")
    p.add_argument("--folder", default=None, help="runs folder (default: the app's)")
    p.add_argument("--metric", default="fd",
                   help="show each run's best checkpoint by this evaluation metric (default: fd)")
    p.add_argument("--json", action="store_true", help="one JSON object per run")

    p = sub.add_parser("bench", help="measure training throughput (images/s, peak memory)")
    _add_training_settings(p)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--sample-count", type=int, default=16,
                   help="seeds sampled in one timed batch (0: skip sampling)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("data", help="load a data spec; report counts, classes and skipped files")
    p.add_argument("spec", help=f"data spec: {', '.join(DATA_SOURCES)}")
    p.add_argument("--size", type=int, default=64, help="side pictures decode to (default: 64)")
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--no-cache", dest="cache", action="store_false",
                   help="decode again instead of reusing the cached decoded set")
    p.add_argument("--preview", default=None, help="also write a PNG grid of the first images")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("self-test", help="check the installation: a few training steps on the "
                                         "bundled MNIST, a sample grid and a GIF in OUTDIR")
    p.add_argument("out", metavar="OUTDIR", help="folder for the run, samples.png and timelapse.gif")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("likelihood", help="a VAE run's test -ELBO and importance-weighted NLL")
    p.add_argument("run", help="run directory of a VAE")
    p.add_argument("--data", default=None, help="data spec (default: the run's own)")
    p.add_argument("--split", choices=["test", "train"], default="test")
    p.add_argument("--limit", type=int, default=None, help="first N images for -ELBO (default: all)")
    p.add_argument("--k", type=int, default=0, help="importance samples for the IWAE NLL (0: skip)")
    p.add_argument("--subset", type=int, default=1000, help="first N images for the IWAE NLL")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="score a run's current checkpoint and record it in its metrics")
    p.add_argument("run", help="run directory")
    p.add_argument("--samples", type=int, default=10_000,
                   help="generated images (default 10,000; FD at other counts is labelled)")
    p.add_argument("--seed", type=int, default=0, help="selects sample seeds and KID subsets")
    p.add_argument("--features", choices=["auto", "evaluator", "random"], default="auto",
                   help="auto: the shipped MNIST evaluator for one-channel data, else random features")
    p.add_argument("--importance-samples", type=int, default=100,
                   help="samples per image for importance-weighted likelihood bounds")
    p.add_argument("--likelihood-limit", type=int, default=None,
                   help="score the likelihood (or next-frame prediction) on the first N test items only")
    p.add_argument("--no-likelihood", action="store_true", help="skip the test-set likelihood")
    p.add_argument("--no-copy-check", action="store_true",
                   help="skip the copy check (samples' distance to their nearest training "
                        "picture against held-out real pictures'; docs/METRICS.md)")
    p.add_argument("--no-record", action="store_true", help="do not append to the run's metrics")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")

    from engine.cli.remix import add_parser as add_remix_parser
    add_remix_parser(sub)
    from engine.cli.nearest import add_parser as add_nearest_parser
    add_nearest_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # A frozen build re-runs its own executable for a process it spawns; this
    # makes such a child do its job (it does nothing elsewhere).
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv   # `train --nproc` hands the same command to torchrun
    from engine.cli.animate import run_animate, run_keyframes
    from engine.cli.remix import run_remix
    from engine.cli.nearest import run_nearest
    handler = {"train": _train, "sample": _sample, "animate": run_animate,
               "keyframes": run_keyframes, "export": _export, "runs": _runs,
               "bench": _bench, "data": _data, "self-test": _self_test,
               "likelihood": _likelihood, "eval": _eval, "remix": run_remix,
               "nearest": run_nearest}[args.command]
    try:
        return handler(args)
    except AtelierError as exc:   # may quote a file's contents: no terminal escapes
        sys.stderr.write(f"error: {printable(exc, one_line=False)}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("error: out of memory; try a smaller batch size, image size or --n\n")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a person gets one line, not a traceback
        sys.stderr.write(f"error: {printable(describe_failure(exc), one_line=False)}\n")
        return EXIT_ERROR


def describe_failure(exc: BaseException) -> str:
    """One line for an unexpected failure; torch's out-of-memory gets a hint."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "out of memory" in first.lower() or "DefaultCPUAllocator" in first:
        return f"out of memory ({first[:200]}); try a smaller batch size or image size"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or first}"
    return f"{type(exc).__name__}: {first[:300]}"


def _print(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    print(json.dumps(result) if args.json else text, flush=True)


def _train_config(args: argparse.Namespace, preset: bool = False, **extra: Any):
    from engine.training import TrainConfig
    given = {"model": args.model, "data": args.data, "image_size": args.image_size,
             "width": args.width, "batch_size": args.batch_size, "learning_rate": args.lr,
             "lr_schedule": args.lr_schedule, "seed": args.seed, "device": args.device, "flip": args.flip,
             "translate": args.translate, "color_jitter": args.color_jitter,
             "data_cache": args.data_cache, "precision": args.precision, "compile": args.compile,
             "threads": args.threads, "model_settings": parse_model_settings(args.model_settings), **extra}
    if preset:
        from engine.cli.preset import apply_preset
        return TrainConfig(**apply_preset(given, json_output=args.json))
    return TrainConfig(**{k: v for k, v in given.items() if v is not None})


def _train(args: argparse.Namespace) -> int:
    """Train here, in `--nproc` processes through torchrun, or as one process
    of a torchrun job (rank 0 trains and reports, the others follow it)."""
    from engine.cli.processes import as_follower, as_leader, joined_job, launch_processes

    if args.nproc is not None and args.nproc != 1:
        from engine.models.registry import DEFAULT_MODEL
        return launch_processes(args, args.model or DEFAULT_MODEL, args.argv)
    distributed = joined_job()
    if distributed is None:
        return _train_in_this_process(args)
    if not distributed.leader:
        return as_follower(distributed)
    return as_leader(distributed, lambda: _train_in_this_process(args, distributed))


def _train_in_this_process(args: argparse.Namespace, distributed: Any = None) -> int:
    from engine.runtime.control import RunControl
    from engine.training.events import Evaluated, Finished, Notice, Progress, RunStarted
    from engine.metrics.during_training import format_scores
    from engine.cli.progress_bar import ProgressBar
    from engine.runtime.stop_signals import StopOnSignals
    from engine.training import resume, train

    control = RunControl()
    if args.restart is not None:
        if args.resume is not None or args.from_best is not None:
            raise SystemExit(_usage("train: --restart cannot go with --resume or --from-best"))
        args.resume = args.restart
    if args.resume is not None:
        option = "--restart" if args.restart is not None else "--resume"
        typed = [flag for key, flag in RUN_DEFINING.items() if getattr(args, key) is not None
                 and not (key == "out" and args.from_best is not None)]  # --out: the new run
        if typed:
            raise SystemExit(_usage(f"train {option}: {', '.join(typed)} cannot change for a "
                                    "saved run (allowed: --steps, --minutes, --lr, --lr-schedule, --device, "
                                    "--sample-every, --autosave-seconds, --keep-last, "
                                    "--keep-best, --no-data-cache, --eval-every-minutes, "
                                    "--eval-every-steps, --eval-samples, --precision, --[no-]compile, "
                                    "--threads)"))
        run_path = args.resume
        if args.from_best is not None:
            from engine.runs.fork import fork_best
            run_path = fork_best(args.resume, args.from_best, args.out)
            print(f"continuing the best checkpoint of {args.resume} by {args.from_best} "
                  f"in {run_path}", file=sys.stderr, flush=True)
        events = _restart_hint(run_path, resume(
                        run_path, control, restart=args.restart is not None,
                        distributed=distributed,
                        steps=args.steps, minutes=args.minutes,
                        learning_rate=args.lr, lr_schedule=args.lr_schedule,
                        device=args.device, sample_every=args.sample_every,
                        autosave_seconds=args.autosave_seconds, keep_last=args.keep_last,
                        keep_best=args.keep_best, data_cache=args.data_cache,
                        precision=args.precision, compile=args.compile, threads=args.threads,
                        **_evaluation_settings(args)))
    else:
        if args.from_best is not None:
            raise SystemExit(_usage("train: --from-best needs --resume RUN"))
        config = _train_config(args, preset=args.preset, steps=args.steps, minutes=args.minutes,
                               sample_every=args.sample_every,
                               autosave_seconds=args.autosave_seconds,
                               keep_last=args.keep_last, keep_best=args.keep_best,
                               **_evaluation_settings(args))
        _doctor_summary(config, args.json)
        events = train(config, args.out, control, distributed=distributed)

    # Ctrl-C, SIGTERM or SIGHUP stops between steps and saves; the same again aborts.
    stop_signals = StopOnSignals(control.stop).install()
    bar = None if args.json else ProgressBar(sys.stderr)
    try:
        for event in events:
            if args.json:
                # Pictures (the grid, reconstructions, a process's frames) stay
                # out of the JSON lines; they are in the run folder.
                record = {"event": type(event).__name__, **{k: v for k, v in vars(event).items()
                                                           if not hasattr(v, "__array__")}}
                print(json.dumps(record), flush=True)
            elif isinstance(event, RunStarted):
                start = f" from step {event.start_step:,}" if event.start_step else ""
                print(f"training {event.model} on {event.device}{start} ({event.parameters:,} "
                      f"parameters, {event.data_count:,} images) -> {event.run_dir}", flush=True)
            elif isinstance(event, Notice):
                print(f"\nnote: {event.message}", file=sys.stderr, flush=True)
            elif isinstance(event, Evaluated):
                print(f"\n{format_scores(event.scores)} ({event.seconds:.1f} s)",
                      file=sys.stderr, flush=True)
            elif isinstance(event, Progress) and bar is not None:
                bar.update(event)
            elif isinstance(event, Finished):
                if bar is not None:
                    bar.close()
                print(f"{event.reason} at step {event.step} after {event.elapsed_seconds:.1f} s; "
                      f"run saved in {event.run_dir}", flush=True)
    finally:
        stop_signals.uninstall()
    return stop_signals.exit_code()   # 143 or 129 after SIGTERM or SIGHUP (engine.runtime.stop_signals)


def _doctor_summary(config: Any, json_output: bool) -> None:
    """Before training on a folder, the data doctor's findings in one line
    (engine.data.doctor); `data SPEC` prints them all. Its failure is not the
    run's: the load that follows says what is wrong with the folder."""
    from engine.data import doctor

    if not doctor.applies(config.data):
        return
    bar = None if json_output else _LoadBar()
    steps = doctor.examine(config.data, config.image_size, config.data_cache)
    try:
        while True:
            event = next(steps)
            if bar is not None:
                bar.update(event)
    except StopIteration as done:
        report = done.value
    except AtelierError:
        return
    finally:
        if bar is not None:
            bar.close()
    if json_output:
        print(json.dumps({"event": "DataDoctor", **report.to_dict()}), flush=True)
        return
    details = (f" (latent-atelier-cli data {config.data} --size {config.image_size} for the "
               "details)") if report.has_findings else ""
    print(f"data doctor: {report.headline()}{details}", file=sys.stderr, flush=True)


def _restart_hint(run: str, events: Any) -> Any:
    """The events of a resume; a run with nothing to resume gets the command
    that trains it again from the start."""
    from engine.runs.checkpoints import NoSavedWeightsError
    from engine.errors import RunDirError

    try:
        yield from events
    except NoSavedWeightsError as exc:
        raise RunDirError(f"{exc}; to train it again from step 0 with its saved settings: "
                          f"latent-atelier-cli train --restart {run}") from None


def _evaluation_settings(args: argparse.Namespace) -> dict[str, Any]:
    given = {"eval_every_minutes": args.eval_every_minutes,
             "eval_every_steps": args.eval_every_steps, "eval_samples": args.eval_samples}
    return {k: v for k, v in given.items() if v is not None}


def _sample(args: argparse.Namespace) -> int:
    from engine.cli.sampler_options import given, sampler_choice
    if args.reconstruct and args.from_image is not None:
        raise SystemExit(_usage("sample: --reconstruct and --from-image cannot go together"))
    if args.strength is not None and args.from_image is None:
        raise SystemExit(_usage("sample: --strength goes with --from-image IMAGE"))
    if args.reconstruct:
        if given(args):
            raise SystemExit(_usage(f"sample: {', '.join(given(args))} cannot go with "
                                    "--reconstruct (a VAE reconstructs in one pass)"))
        from engine.cli.reconstruct import run_reconstruct
        return run_reconstruct(args)
    if args.from_image is not None:
        from engine.cli.variation import run_variations
        return run_variations(args)
    from engine.studio.export import save_png
    from engine.media.images import make_grid
    from engine.studio.sampling import sample_run, seeds_from

    seeds = seeds_from(args.seed, args.n)
    labels = None if args.label is None else [args.label] * len(seeds)
    images = sample_run(args.run, seeds, device=args.device, labels=labels,
                        temperature=args.temperature, truncation=args.truncation,
                        **sampler_choice(args))
    provenance = {"run": Path(args.run).name, "temperature": args.temperature,
                  **_sampler_record(args)}
    if args.truncation is not None:
        provenance["truncation"] = args.truncation
    if labels is not None:
        provenance["class"] = args.label
    out = Path(args.out)
    if args.out.endswith(("/", "\\")) or out.is_dir():
        written = [str(save_png(img, out / f"seed_{seed:06d}.png", args.scale,
                                {**provenance, "seed": seed}))
                   for seed, img in zip(seeds, images)]
    else:
        written = [str(save_png(make_grid(images), out, args.scale, {**provenance, "seeds": seeds}))]
    sampler = {k: provenance[k] for k in ("sampler_steps", "guidance") if k in provenance}
    _print(args, {"files": written, "seeds": seeds, **sampler},
           f"wrote {len(written)} file(s): {written[0]}" + (" ..." if len(written) > 1 else ""))
    return 0


def _sampler_record(args: argparse.Namespace) -> dict[str, Any]:
    """The sampler steps and guidance a sample grid was drawn with (the run's
    defaults where no flag chose them), for models that have them."""
    from engine.models.base import GUIDANCE, STEPS
    from engine.studio.sampling import run_sampling_defaults, run_sampling_options

    options = run_sampling_options(args.run)
    if STEPS not in options and GUIDANCE not in options:
        return {}
    defaults = run_sampling_defaults(args.run)
    record: dict[str, Any] = {}
    if STEPS in options:
        record["sampler_steps"] = (args.sampler_steps if args.sampler_steps is not None
                                   else defaults.steps)
    if GUIDANCE in options:
        record["guidance"] = args.guidance if args.guidance is not None else defaults.guidance
    return record


def _export(args: argparse.Namespace) -> int:
    from engine.runs.bundles import export_bundle, inspect_bundle

    checkpoint = None
    if args.best is not None:
        from engine.runs.best import require_best
        checkpoint = require_best(args.run, args.best).checkpoint
    onnx = args.format == "onnx" or (args.format is None and args.out.lower().endswith(".onnx"))
    if onnx:
        return _export_onnx(args, checkpoint)
    info = inspect_bundle(export_bundle(args.run, args.out, checkpoint=checkpoint))
    _print(args, {"file": str(info.path), "model": info.model, "step": info.step,
                  "bytes": info.path.stat().st_size},
           f"wrote {info.path} ({info.model} at step {info.step:,}, "
           f"{info.path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _export_onnx(args: argparse.Namespace, checkpoint: str | None) -> int:
    from engine.studio.onnx_export import export_onnx

    result = export_onnx(args.run, args.out, checkpoint=checkpoint)
    step = "" if result.step is None else f" at step {result.step:,}"
    _print(args, {"file": str(result.path), "format": "onnx", "model": result.model,
                  "kind": result.kind, "step": result.step, "opset": result.opset,
                  "bytes": result.bytes},
           f"wrote {result.path} ({result.model} {result.kind}{step}, ONNX opset {result.opset}, "
           f"{result.bytes / 1e6:.1f} MB)")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from engine.metrics.memorisation import latest_score
    from engine.runs.best import best_checkpoint, is_eval_metric, recorded_evaluations
    from engine.runs.index import DAMAGED, format_losses, list_runs

    if not is_eval_metric(args.metric):
        raise SystemExit(_usage(f"runs: --metric {args.metric!r} is not an evaluation metric "
                                "(fd, kid, class_coverage, confident_fraction, <estimate>_nats, ...)"))
    for s in list_runs(args.folder):
        best = copying = None
        if s.state != DAMAGED:
            try:
                records = recorded_evaluations(s.path)
                best = best_checkpoint(s.path, args.metric, records)
                copying = latest_score(records)
            except AtelierError:
                best = None   # an unreadable metrics file: the row still lists the run
        _print(args, {"name": s.name, "path": str(s.path), "state": s.state, "detail": s.detail,
                      "model": s.model, "data": s.data, "step": s.step, "losses": s.losses,
                      "best": best.to_dict() if best else None,
                      "memorisation": copying.to_dict() if copying else None},
               # Names and details come from the run's files: no terminal escapes.
               f"{printable(s.name)}\t{s.state} ({printable(s.detail)})\t{printable(s.model)}\t"
               f"{printable(s.data)}\tstep {s.step:,}\t{printable(format_losses(s.losses))}\t"
               f"best {printable(best.describe()) if best else '-'}\t"
               f"memorisation {copying.describe() if copying else '-'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from engine.diagnostics.bench import bench

    if args.steps < 1 or args.warmup < 0:
        raise SystemExit(_usage("bench: --steps must be at least 1 and --warmup 0 or more"))
    if args.sample_count < 0:
        raise SystemExit(_usage("bench: --sample-count must be 0 or more"))
    result = bench(_train_config(args), steps=args.steps, warmup=args.warmup,
                   sample_count=args.sample_count)
    sampling = (f"; sampling {result['sample_images_per_second']:.1f} images/s"
                if "sample_images_per_second" in result else "")
    _print(args, result, f"{result['model']}: {result['images_per_second']:.1f} images/s "
                         f"training{sampling} (batch {result['batch_size']}, {result['device']}, "
                         f"peak memory {result['peak_memory_mb'] or 0:.0f} MB)")
    return 0


def _data(args: argparse.Namespace) -> int:
    from engine.data.summary import DataSummary, scan
    from engine.studio.export import save_png

    if not 1 <= args.size <= 4096:
        raise SystemExit(_usage("data: --size must be between 1 and 4096"))
    bar = None if args.json else _LoadBar()
    summary = None
    for event in scan(args.spec, size=args.size, split=args.split, cache=args.cache):
        if isinstance(event, DataSummary):
            summary = event
        elif bar is not None:
            bar.update(event)
    if bar is not None:
        bar.close()
    assert summary is not None  # scan always ends with one when not cancelled
    if args.preview:
        save_png(summary.preview, args.preview, 1, {"data": args.spec})
    result = {"spec": summary.spec, "count": summary.count, "channels": summary.channels,
              "size": list(summary.size), "frames": summary.frames,
              "classes": dict(zip(summary.class_names, summary.class_counts)),
              "found": summary.found, "from_cache": summary.from_cache,
              "seconds": round(summary.seconds, 3),
              "original_sizes": [list(s) for s in summary.original_sizes],
              "skipped": [{"path": s.path, "reason": s.reason} for s in summary.skipped],
              "doctor": summary.doctor.to_dict() if summary.doctor is not None else None}
    _print(args, result, "\n".join(summary.lines()))
    return 0


class _LoadBar:
    """'decoding 1,234/10,000' on one terminal line, rewritten in place."""

    def __init__(self) -> None:
        self._shown = False

    def update(self, event: Any) -> None:
        if event.total and sys.stderr.isatty():
            sys.stderr.write(f"\r{event.stage} {event.done:,}/{event.total:,}")
            sys.stderr.flush()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\n")


def _self_test(args: argparse.Namespace) -> int:
    import dataclasses

    from engine.diagnostics.self_test import run_self_test

    report = run_self_test(args.out)
    _print(args, dataclasses.asdict(report), "\n".join(report.lines()))
    return 0


def parse_model_settings(pairs: list[str] | None) -> dict[str, Any] | None:
    """["beta=4", "conditional=true"] -> {"beta": 4, "conditional": True}; values
    are read as JSON (numbers, true/false), else kept as text."""
    if not pairs:
        return None
    settings: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise SystemExit(_usage(f"--set expects NAME=VALUE, not {pair!r}"))
        name = name.strip()
        if name in _SET_ELSEWHERE:
            raise SystemExit(_usage(f"--set {name}: {_SET_ELSEWHERE[name]}"))
        try:
            value = safe_json.loads(text)
        except safe_json.JsonTooDeepError as exc:
            raise SystemExit(_usage(f"--set {name}: the value is {exc}")) from None
        except ValueError:
            value = text
        settings[name] = value
    return settings


# Model settings the trainer sets itself: a --set for them would be overridden
# without a word, so it is refused with the way that works.
_SET_ELSEWHERE = {"width": "use --width", "image_size": "use --image-size",
                  "learning_rate": "use --lr",
                  "channels": "comes from the data (grey or colour pictures)",
                  "num_classes": "comes from the data's class labels"}


def _likelihood(args: argparse.Namespace) -> int:
    from engine.cli.likelihood import evaluate_run

    if args.k < 0 or args.subset < 1 or (args.limit is not None and args.limit < 1):
        raise SystemExit(_usage("likelihood: --k must be 0 or more, --subset and --limit 1 or more"))
    r = evaluate_run(args.run, data=args.data, split=args.split, k=args.k, subset=args.subset,
                     limit=args.limit, device=args.device, seed=args.seed)
    text = (f"{r['model']} on {r['data']} {r['split']} ({r['images']} images"
            f"{', binarized' if r['binarized'] else ''}): -ELBO {r['negative_elbo_nats']:.2f} nats")
    if "iwae_nll_nats" in r:
        text += f"; IWAE NLL (k={r['iwae_k']}, {r['iwae_images']} images) {r['iwae_nll_nats']:.2f} nats"
    _print(args, r, text)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from engine.runtime.control import RunControl
    from engine.metrics.evaluate import EvalConfig, EvalFinished, EvalProgress, evaluate_run, format_result

    config = EvalConfig(samples=args.samples, seed=args.seed, device=args.device,
                        features=args.features, likelihood=not args.no_likelihood,
                        importance_samples=args.importance_samples,
                        likelihood_limit=args.likelihood_limit, record=not args.no_record,
                        copy_check=not args.no_copy_check)
    control = RunControl()
    previous = signal.signal(signal.SIGINT, lambda *_: control.stop())
    try:
        for event in evaluate_run(args.run, config, control):
            if isinstance(event, EvalProgress) and not args.json:
                sys.stderr.write(f"\r{event.stage}: {event.done:,}/{event.total:,}   ")
                sys.stderr.flush()
            elif isinstance(event, EvalFinished):
                if not args.json:
                    sys.stderr.write("\n")
                if event.result is None:
                    sys.stderr.write("evaluation stopped; nothing recorded\n")
                    return 130
                _print(args, event.result, format_result(event.result))
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


def _usage(message: str) -> int:
    sys.stderr.write(f"latent-atelier-cli: error: {message}\n")
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
