"""The Linux desktop entry and the install/uninstall scripts, on a stand-in app folder."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LINUX = Path(__file__).parents[2] / "packaging" / "linux"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell scripts")


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str   # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_has_what_menus_need():
    entry = desktop_entry(LINUX / "latent-atelier.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "Latent Atelier"
    assert entry["Exec"] == "latent-atelier %f" and entry["Icon"] == "latent-atelier"
    assert entry["MimeType"] == "application/x-latent-atelier-bundle;"
    mime = (LINUX / "latent-atelier-mime.xml").read_text()
    assert 'type="application/x-latent-atelier-bundle"' in mime
    assert 'pattern="*.atelier.safetensors"' in mime
    assert entry["Terminal"] == "false" and entry["Categories"].endswith(";")
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(LINUX / "latent-atelier.desktop")],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def package(tmp_path) -> Path:
    """What the tarball unpacks to, with a tiny script standing in for the frozen app."""
    root = tmp_path / "LatentAtelier-0.1.0-linux-x86_64"
    app = root / "LatentAtelier"
    (app / "_internal").mkdir(parents=True)
    (app / "LatentAtelier").write_text("#!/bin/sh\necho stand-in app \"$@\"\n")
    (app / "LatentAtelier").chmod(0o755)
    (app / "_internal" / "lib.so").write_bytes(b"\0" * 10)
    for name in ("install.sh", "uninstall.sh", "latent-atelier.desktop", "latent-atelier-mime.xml"):
        shutil.copy2(LINUX / name, root / name)
    icons = root / "icons"
    icons.mkdir()
    for size in ICON_SIZES:
        shutil.copy2(Path(__file__).parents[2] / "resources" / "icons" / f"latent-atelier-{size}.png",
                     icons)
    return root


def run_script(script: Path, home: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_install_puts_app_menu_entry_and_icons_in_xdg_places_and_uninstall_removes_them(
        package, tmp_path):
    home = tmp_path / "home"
    share = home / "share"
    user_runs = share / "LatentAtelier" / "runs" / "my-run"
    user_runs.mkdir(parents=True)
    run_script(package / "install.sh", home)

    app = share / "latent-atelier" / "app" / "LatentAtelier"
    assert app.exists() and os.access(app, os.X_OK)
    link = home / ".local" / "bin" / "latent-atelier"
    assert subprocess.run([str(link), "--version"], capture_output=True,
                          text=True).stdout.strip() == "stand-in app --version"
    entry = desktop_entry(share / "applications" / "latent-atelier.desktop")
    assert entry["Exec"] == f'"{app}" %f' and entry["TryExec"] == str(app)
    assert (share / "mime" / "packages" / "latent-atelier.xml").exists()
    for size in ICON_SIZES:
        assert (share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "latent-atelier.png").exists()

    run_script(package / "install.sh", home)   # again, as an update: still one working copy
    assert not (share / "latent-atelier" / "app.new").exists() and app.exists()

    run_script(package / "uninstall.sh", home)
    assert not (share / "latent-atelier").exists() and not link.exists()
    assert not (share / "applications" / "latent-atelier.desktop").exists()
    assert not (share / "mime" / "packages" / "latent-atelier.xml").exists()
    assert not list((share / "icons").rglob("latent-atelier.png"))
    assert user_runs.exists(), "uninstalling must never delete the user's runs"


def test_install_refuses_a_partly_unpacked_archive(package, tmp_path):
    (package / "LatentAtelier" / "LatentAtelier").unlink()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    result = subprocess.run(["sh", str(package / "install.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "unpack the whole archive" in result.stderr
