"""Build the installed app for this platform: `python packaging/build.py`.

Runs PyInstaller on packaging/latent_atelier.spec into dist/LatentAtelier (on
macOS also dist/Latent Atelier.app), then on Linux assembles
dist/LatentAtelier-<version>-linux-<arch>/ with the install and uninstall
scripts, the desktop entry and the icons, and packs it as a .tar.xz (xz packs
the native libraries about a third smaller than gzip on a sample of the bundle,
at far more CPU time; every Linux has it; `--archive gz` for a .tar.gz). It prints
(and writes to dist/build-report.json) the build time, the folder size and the
archive size. Build outputs stay out of git (build/, dist/).

    python packaging/build.py               build and archive
    python packaging/build.py --no-archive  just the app folder
    python packaging/build.py --archive gz  a .tar.gz instead of the .tar.xz
    python packaging/build.py --smoke-test  then run packaging/smoke_test.py on it
    python packaging/build.py --without-video   no PyAV: about 80 MB smaller, no MP4
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "latent_atelier.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_NAME = "LatentAtelier"
LINUX_FILES = ROOT / "packaging" / "linux"


def app_folder(dist: Path = DIST) -> Path:
    return dist / APP_NAME


def executable(folder: Path) -> Path:
    return folder / (f"{APP_NAME}.exe" if sys.platform == "win32" else APP_NAME)


def folder_size(path: Path) -> int:
    """Bytes of the files under path, counting each file once (links are not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from engine import __version__
    return __version__


def run_pyinstaller(clean: bool, with_video: bool = True) -> float:
    for icon in ("latent-atelier.ico", "latent-atelier.icns", "latent-atelier.png"):
        if not (ROOT / "resources" / "icons" / icon).exists():
            raise SystemExit(f"resources/icons/{icon} is missing; run packaging/make_icons.py")
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(DIST),
               "--workpath", str(WORK), "--log-level", "WARN", str(SPEC)]
    if clean:
        command.insert(3, "--clean")
    env = {**os.environ, "LATENT_ATELIER_WITHOUT_VIDEO": "0" if with_video else "1"}
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def package_name(with_video: bool = True) -> str:
    """LatentAtelier-<version>-linux-<arch>, with -novideo for a build without video."""
    return f"{APP_NAME}-{version()}-linux-{platform.machine()}{'' if with_video else '-novideo'}"


def linux_package(folder: Path, make_archive: bool, archive_format: str = "xz",
                  with_video: bool = True) -> tuple[Path, Path | None]:
    """dist/<package_name>/ and its .tar.xz (or .tar.gz)."""
    name = package_name(with_video)
    staging = DIST / name
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    shutil.copytree(folder, staging / APP_NAME, symlinks=True)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(LINUX_FILES / script, staging / script)
        (staging / script).chmod(0o755)
    for entry in ("latent-atelier.desktop", "latent-atelier-mime.xml"):
        shutil.copy2(LINUX_FILES / entry, staging / entry)
    icons = staging / "icons"
    icons.mkdir()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        shutil.copy2(ROOT / "resources" / "icons" / f"latent-atelier-{size}.png", icons)
    shutil.copy2(LINUX_FILES / "README.txt", staging / "README.txt")
    if not make_archive:
        return staging, None
    archive = DIST / f"{name}.tar.{archive_format}"
    write_archive(staging, archive, name, archive_format)
    return staging, archive


def write_archive(staging: Path, archive: Path, name: str, archive_format: str) -> None:
    """Pack staging as archive (top folder `name`), keeping file modes and links.

    xz goes through the xz program where there is one (multi-threaded, minutes
    faster than Python's lzma on a big folder), else through tarfile."""
    archive.unlink(missing_ok=True)
    xz = shutil.which("xz")
    if archive_format == "xz" and xz:
        plain = archive.with_suffix("")          # name.tar
        with tarfile.open(plain, "w") as tar:
            tar.add(staging, arcname=name)
        subprocess.run([xz, "-6", "-T0", "-f", str(plain)], check=True)   # -> name.tar.xz
        return
    if archive_format == "xz":
        with tarfile.open(archive, "w:xz", preset=6) as tar:
            tar.add(staging, arcname=name)
        return
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(staging, arcname=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-archive", action="store_true", help="skip the archive (Linux)")
    parser.add_argument("--archive", choices=("xz", "gz"), default="xz",
                        help="compression of the Linux archive (default: xz)")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--smoke-test", action="store_true",
                        help="run packaging/smoke_test.py on the result")
    parser.add_argument("--without-video", action="store_true",
                        help="leave out PyAV (MP4 export, reading videos): about 80 MB smaller")
    args = parser.parse_args(argv)
    with_video = not args.without_video

    seconds = run_pyinstaller(args.clean, with_video)
    folder = app_folder()
    report: dict[str, object] = {
        "version": version(), "platform": f"{sys.platform}-{platform.machine()}",
        "build_seconds": round(seconds, 1), "folder": str(folder.relative_to(ROOT)),
        "folder_mb": round(folder_size(folder) / 1e6, 1),
        "files": sum(1 for p in folder.rglob("*") if p.is_file()),
        "video": with_video,
    }
    if sys.platform.startswith("linux"):
        staging, archive = linux_package(folder, not args.no_archive, args.archive, with_video)
        report["package"] = str(staging.relative_to(ROOT))
        if archive is not None:
            report["archive"] = str(archive.relative_to(ROOT))
            report["archive_mb"] = round(archive.stat().st_size / 1e6, 1)
    elif sys.platform == "win32":
        report["next"] = "iscc packaging\\windows\\latent_atelier.iss  (Inno Setup 6)"
    elif sys.platform == "darwin":
        report["next"] = "see docs/PACKAGING.md: codesign, then hdiutil create for a .dmg"
    (DIST / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))

    if args.smoke_test:
        return subprocess.run([sys.executable, str(ROOT / "packaging" / "smoke_test.py"),
                               str(executable(folder))]
                              + ([] if with_video else ["--without-video"]), cwd=ROOT,
                              env={**os.environ}).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
