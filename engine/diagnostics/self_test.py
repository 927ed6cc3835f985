"""A short end-to-end check of an installation, for support and for the frozen build.

It trains a few steps on the bundled MNIST, samples a grid from the saved run
and exports the training time-lapse as a GIF and as an MP4 video (the one
format that needs the bundled video encoder; an installed app built without
video skips it and says so), all into one output folder, and
watches that nothing tries to open a network connection (the app is offline by
design, so any attempt is a failure). The app's `--self-test OUTDIR`, its
Help > Run self-test and `latent-atelier-cli self-test OUTDIR` all run this.
"""
from __future__ import annotations

import platform
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import __version__
from engine.errors import AtelierError
from engine.media.video_support import video_unavailable

SELF_TEST_STEPS = 12
SELF_TEST_SEEDS = list(range(16))
# Left in OUTDIR by a self-test: its `run` folder is the self-test's own, which the
# next self-test into the same folder replaces. A run without it is never touched.
MARKER_FILE = ".latent-atelier-self-test"


class SelfTestError(AtelierError):
    """The installation failed its self-test; the message says which stage."""


@dataclass
class SelfTestReport:
    out_dir: str
    data: str = "mnist"
    run_dir: str = ""
    grid_png: str = ""
    timelapse_gif: str = ""
    timelapse_mp4: str = ""
    mp4_left_out: str = ""      # why a build without video skipped the MP4 stage
    steps: int = 0
    frames: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    network_attempts: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        stages = ", ".join(f"{name} {value:.2f} s" for name, value in self.seconds.items())
        return [
            f"Latent Atelier {__version__} self-test: passed",
            f"python {platform.python_version()} on {platform.system()} {platform.machine()}"
            f"{' (frozen)' if getattr(sys, 'frozen', False) else ''}",
            f"trained {self.steps} steps on {self.data} -> {self.run_dir}",
            f"sampled {len(SELF_TEST_SEEDS)} images -> {self.grid_png}",
            f"time-lapse of {self.frames} frames -> {self.timelapse_gif}",
            (f"the same as MP4 video -> {self.timelapse_mp4}" if not self.mp4_left_out
             else f"MP4 video skipped: {self.mp4_left_out}"),
            f"network connections attempted: {len(self.network_attempts)}",
            f"timings: {stages}",
        ]


class _NetworkWatch:
    """Records every socket connect/bind to a non-local address while active.

    An audit hook cannot be removed once added, so one hook is installed for the
    process and only records while a watch is open.
    """

    _lock = threading.Lock()
    _active: list["_NetworkWatch"] = []
    _installed = False

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def __enter__(self) -> "_NetworkWatch":
        with self._lock:
            if not _NetworkWatch._installed:
                sys.addaudithook(_NetworkWatch._hook)
                _NetworkWatch._installed = True
            self._active.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._active.remove(self)

    @staticmethod
    def _hook(event: str, args: tuple) -> None:
        if event not in ("socket.connect", "socket.getaddrinfo") or not _NetworkWatch._active:
            return
        address = args[1] if event == "socket.connect" else args[0]
        if event == "socket.connect" and isinstance(address, str):
            return  # a Unix-domain socket (e.g. the desktop session bus), not the network
        for watch in list(_NetworkWatch._active):
            watch.attempts.append(f"{event} {address!r}")


def run_self_test(out_dir: str | Path, steps: int | None = None, data: str = "mnist",
                  video_optional: bool | None = None) -> SelfTestReport:
    """Train, sample and export into `out_dir`; raises SelfTestError naming the failed stage.

    `data` is the bundled MNIST for real checks; tests pass a tiny data set.
    `video_optional`: skip the MP4 stage, saying why, when video is unavailable
    (default: in the installed app, which may be built without it; from source
    a missing PyAV is a broken install and fails the test).
    """
    steps = SELF_TEST_STEPS if steps is None else steps
    if video_optional is None:
        video_optional = bool(getattr(sys, "frozen", False))
    out = Path(out_dir)
    _make_room(out)
    report = SelfTestReport(out_dir=str(out), data=data)
    with _NetworkWatch() as watch:
        _stages(out, steps, data, report, video_optional)
    report.network_attempts = watch.attempts
    if watch.attempts:
        raise SelfTestError(f"the app tried to use the network: {watch.attempts[0]}")
    return report


def _make_room(out: Path) -> None:
    """Replace an earlier self-test's run in `out` (running the self-test twice into
    one folder failed: the folder "already holds a run"), and mark `out` as the
    self-test's when nothing else is in the way. Anything a self-test did not make
    is left alone, and training then refuses it in one line."""
    run = out / "run"
    try:
        if (out / MARKER_FILE).is_file() and run.is_dir() and not run.is_symlink():
            shutil.rmtree(run)
        if not run.exists() and not run.is_symlink():
            out.mkdir(parents=True, exist_ok=True)
            (out / MARKER_FILE).write_text("a Latent Atelier self-test writes here\n",
                                           encoding="utf-8")
    except OSError as exc:
        raise SelfTestError(f"cannot prepare {out}: {exc.strerror or exc}") from None


def _stages(out: Path, steps: int, data: str, report: SelfTestReport,
            video_optional: bool) -> None:
    start = time.perf_counter()
    try:
        from engine.studio.animation import timelapse_frames
        from engine.training.events import Finished
        from engine.studio.export import save_gif, save_png
        from engine.studio.exporters import ExportOptions, export_animation
        from engine.media.images import make_grid
        from engine.studio.sampling import sample_run
        from engine.training import TrainConfig, train
    except Exception as exc:  # noqa: BLE001 - a broken install must be reported, not crash
        raise SelfTestError(f"importing the engine failed: {type(exc).__name__}: {exc}") from exc
    report.seconds["import"] = time.perf_counter() - start

    stage = "training"
    try:
        # The fastest model, a few steps, a grid every few steps so the GIF animates.
        config = TrainConfig(model="mlp-gan", data=data, batch_size=32, steps=steps,
                             sample_every=max(1, steps // 4), device="cpu")
        tick = time.perf_counter()
        for event in train(config, out / "run"):
            if isinstance(event, Finished):
                report.steps, report.run_dir = event.step, event.run_dir
        report.seconds["train"] = time.perf_counter() - tick

        stage = "sampling"
        tick = time.perf_counter()
        images = sample_run(report.run_dir, SELF_TEST_SEEDS, device="cpu")
        report.grid_png = str(save_png(make_grid(images), out / "samples.png", scale=2,
                                       provenance={"kind": "self-test", "seeds": SELF_TEST_SEEDS}))
        report.seconds["sample"] = time.perf_counter() - tick

        stage = "exporting the time-lapse"
        tick = time.perf_counter()
        run_steps, frames = timelapse_frames(report.run_dir)
        report.timelapse_gif = str(save_gif(frames, out / "timelapse.gif", fps=5, scale=2,
                                            provenance={"kind": "self-test", "steps": run_steps}))
        report.frames = len(frames)
        report.seconds["export"] = time.perf_counter() - tick

        stage = "exporting the MP4 video"
        left_out = video_unavailable()
        if left_out is not None and video_optional:
            report.mp4_left_out = left_out
        else:
            tick = time.perf_counter()
            report.timelapse_mp4 = str(export_animation(
                frames, out / "timelapse.mp4", "mp4", ExportOptions(fps=5, scale=2),
                provenance={"kind": "self-test", "steps": run_steps}))
            report.seconds["mp4"] = time.perf_counter() - tick
    except AtelierError as exc:
        raise SelfTestError(f"{stage} failed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the report names the stage and the cause
        raise SelfTestError(f"{stage} failed: {type(exc).__name__}: {exc}") from exc
    if report.steps != steps:
        raise SelfTestError(f"training ended at step {report.steps}, not {steps}")
