"""Smoke-test a built app: `python packaging/smoke_test.py [EXECUTABLE] [--without-video]`.

Runs the frozen executable (default dist/LatentAtelier/LatentAtelier) the way
support would: `--self-test OUTDIR`, headless (QT_QPA_PLATFORM=offscreen), in a
fresh home folder, with networking blocked where the OS allows it (`unshare
-rn`: a private network namespace with no interfaces). It checks that

- it exits 0 and reports that the self-test passed with no network attempts;
- OUTDIR holds a GIF of several frames, the same as an MP4 video (the bundled
  video encoder works) and the sample grid;
- the log went to the platform's app-data folder (XDG_DATA_HOME/LatentAtelier);
- nothing beside the executable changed (no file added, removed or modified);
- the bundle holds PyAV with its H.264 encoder (libx264) for MP4 export, and
  no imageio-ffmpeg (its ffmpeg program alone was 173 MB);

With `--without-video` (a build made `build.py --without-video`) it checks the
opposite for video: no PyAV in the bundle, and a self-test that skipped MP4
saying so. It prints the measured times as JSON: `--version` (process start-up), the main
window built (start-up to a ready GUI) and the whole self-test.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXE = ROOT / "dist" / "LatentAtelier" / ("LatentAtelier.exe" if sys.platform == "win32"
                                                 else "LatentAtelier")
TIMEOUT_S = 900


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def network_blocker() -> list[str]:
    """A command prefix that runs the app with no network, or [] where that is impossible."""
    unshare = shutil.which("unshare")
    if unshare and sys.platform.startswith("linux"):
        probe = subprocess.run([unshare, "-rn", "true"], capture_output=True)
        if probe.returncode == 0:
            return [unshare, "-rn"]
    return []


def isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LATENT_ATELIER_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), QT_QPA_PLATFORM="offscreen",
               APPDATA=str(home / "data"), USERPROFILE=str(home))
    return env


def run_timed(command: list[str], env: dict[str, str], cwd: Path,
              marker: str | None = None) -> tuple[int, list[str], float, float | None]:
    """(exit code, output lines, total seconds, seconds until a line containing marker)."""
    start = time.perf_counter()
    seen = None
    lines = []
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if marker and seen is None and marker in line:
            seen = time.perf_counter() - start
    code = process.wait(timeout=TIMEOUT_S)
    return code, lines, time.perf_counter() - start, seen


def video_bundle_problems(folder: Path) -> list[str]:
    """What is wrong with the bundle's video support (PyAV and libx264 in, imageio-ffmpeg out)."""
    problems = []
    if not any(p.is_dir() for p in folder.rglob("av")):
        problems.append("PyAV (the av package) is not in the bundle: MP4 export would fail")
    if not any(folder.rglob("libx264*")):
        problems.append("libx264 is not in the bundle: MP4 export would fail")
    if any(folder.rglob("imageio_ffmpeg")):
        problems.append("imageio_ffmpeg is in the bundle (the spec should exclude it)")
    return problems


def no_video_problems(folder: Path) -> list[str]:
    """What is wrong with a bundle built without video (it must hold no PyAV or ffmpeg)."""
    problems = []
    if any(p.is_dir() for p in folder.rglob("av")) or any(folder.rglob("av.libs")):
        problems.append("PyAV is in a bundle built --without-video")
    if any(folder.rglob("libavcodec*")) or any(folder.rglob("libx264*")):
        problems.append("ffmpeg libraries are in a bundle built --without-video")
    return problems


def smoke_test(exe: Path, with_video: bool = True) -> dict[str, object]:
    exe = exe.resolve()
    if not exe.exists():
        raise SystemExit(f"{exe} does not exist; build it first: python packaging/build.py")
    folder = exe.parent
    failures: list[str] = video_bundle_problems(folder) if with_video else no_video_problems(folder)
    before = snapshot(folder)
    blocker = network_blocker()
    with tempfile.TemporaryDirectory(prefix="atelier-smoke-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "cwd").mkdir()
        env = isolated_env(tmp_path / "home")
        out = tmp_path / "self-test"

        code, lines, version_s, _ = run_timed([*blocker, str(exe), "--version"], env,
                                              tmp_path / "cwd")
        if code != 0 or not any("latent-atelier" in line for line in lines):
            failures.append(f"--version exited {code}: {lines[-3:]}")

        code, lines, total_s, window_s = run_timed(
            [*blocker, str(exe), "--self-test", str(out)], env, tmp_path / "cwd",
            marker="window ready")
        text = "\n".join(lines)
        print(text, flush=True)
        if code != 0:
            failures.append(f"--self-test exited {code}")
        for expected in ("self-test: passed", "network connections attempted: 0", "(frozen)"):
            if expected not in text:
                failures.append(f"the report lacks {expected!r}")
        gif = out / "timelapse.gif"
        if not gif.exists() or gif.read_bytes()[:6] != b"GIF89a":
            failures.append(f"{gif} is missing or not a GIF")
        elif gif.read_bytes().count(b"\x21\xf9\x04") < 2:   # one graphic control block per frame
            failures.append(f"{gif} has fewer than two frames")
        video = out / "timelapse.mp4"
        if not with_video:
            if video.exists():
                failures.append(f"{video} was written by a build without video")
            if "MP4 video skipped: this build of Latent Atelier leaves out video" not in text:
                failures.append("the report does not say that this build leaves out video")
        # An MP4 (ISO base media) file starts with a box whose type is "ftyp".
        elif not video.exists() or video.read_bytes()[4:8] != b"ftyp":
            failures.append(f"{video} is missing or not an MP4 file")
        elif video.stat().st_size < 1000:
            failures.append(f"{video} is too small to hold the frames")
        if not (out / "samples.png").exists():
            failures.append("no samples.png")
        log = tmp_path / "home" / "data" / "LatentAtelier" / "logs" / "latent-atelier.log"
        if sys.platform.startswith("linux") and not log.exists():
            failures.append(f"no log at {log}")

    after = snapshot(folder)
    changed = sorted(set(before) ^ set(after)) + sorted(
        name for name in set(before) & set(after) if before[name] != after[name])
    if changed:
        failures.append(f"files beside the executable changed: {changed[:5]}")
    return {
        "executable": str(exe),
        "video": with_video,
        "network_blocked": bool(blocker),
        "version_seconds": round(version_s, 2),
        "window_ready_seconds": round(window_s, 2) if window_s is not None else None,
        "self_test_seconds": round(total_s, 2),
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with_video = "--without-video" not in args
    args = [arg for arg in args if arg != "--without-video"]
    result = smoke_test(Path(args[0]) if args else DEFAULT_EXE, with_video)
    print(json.dumps(result, indent=2))
    if not result["network_blocked"]:
        print("note: networking could not be blocked here (no unshare -rn); the app's own "
              "watch still fails the self-test on any connection attempt", file=sys.stderr)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
