"""What the frozen app relies on, checked without building it (tests/packaging/test_frozen_app.py builds)."""
from __future__ import annotations

import importlib.util
import platform
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

import resources
from resources import resource_path

ROOT = Path(__file__).parents[2]


def load_build_module():
    spec = importlib.util.spec_from_file_location("atelier_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_resource_path_finds_files_from_source_and_in_a_frozen_bundle(monkeypatch, tmp_path):
    assert resource_path("data", "mnist", "train-images-idx3-ubyte.gz").exists()
    assert resource_path("icons", "latent-atelier.png").exists()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resource_path("icons", "latent-atelier.png") == \
        tmp_path / "resources" / "icons" / "latent-atelier.png"


def test_no_code_finds_files_relative_to_itself():
    """Paths from __file__ or _MEIPASS break in some frozen layouts: resource_path() only."""
    allowed = {Path(resources.__file__).resolve()}
    for package in ("engine", "desktop_app"):
        for path in (ROOT / package).rglob("*.py"):
            if path.resolve() in allowed:
                continue
            text = path.read_text(encoding="utf-8")
            assert "__file__" not in text and "_MEIPASS" not in text, path


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512, 1024])
def test_the_icon_exists_in_every_png_size(size):
    with Image.open(resource_path("icons", f"latent-atelier-{size}.png")) as icon:
        assert icon.size == (size, size) and icon.mode == "RGBA"
        assert icon.getpixel((0, 0))[3] == 0 and icon.getpixel((size // 2, size // 2))[3] == 255


def test_windows_and_macos_icons_hold_the_sizes_they_need():
    with Image.open(resource_path("icons", "latent-atelier.ico")) as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(resource_path("icons", "latent-atelier.icns")) as icns:
        assert {(16, 16, 2), (128, 128, 1), (512, 512, 2)} <= set(icns.info["sizes"])


@pytest.mark.parametrize("archive_format", ["xz", "gz"])
def test_linux_package_has_app_scripts_icons_and_an_archive_that_keeps_modes(
        monkeypatch, tmp_path, archive_format):
    build = load_build_module()
    monkeypatch.setattr(build, "DIST", tmp_path)
    app = tmp_path / "LatentAtelier"
    (app / "_internal").mkdir(parents=True)
    (app / "LatentAtelier").write_text("#!/bin/sh\n")
    (app / "LatentAtelier").chmod(0o755)
    staging, archive = build.linux_package(app, make_archive=True, archive_format=archive_format)
    assert archive.name.endswith(f".tar.{archive_format}") and archive.is_file()
    assert not archive.with_suffix("").exists()   # no plain .tar left behind
    assert {p.name for p in staging.iterdir()} == {
        "LatentAtelier", "install.sh", "uninstall.sh", "latent-atelier.desktop",
        "latent-atelier-mime.xml", "icons", "README.txt"}
    assert build.folder_size(staging) > 0
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    top = staging.name
    assert members[f"{top}/LatentAtelier/LatentAtelier"].mode & 0o111
    assert members[f"{top}/install.sh"].mode & 0o111
    assert f"{top}/icons/latent-atelier-256.png" in members


def test_xz_archive_without_the_xz_program_is_written_by_python(monkeypatch, tmp_path):
    build = load_build_module()
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run").write_text("#!/bin/sh\n")
    (tmp_path / "app" / "run").chmod(0o755)
    archive = tmp_path / "app.tar.xz"
    build.write_archive(tmp_path / "app", archive, "app", "xz")
    with tarfile.open(archive, "r:xz") as tar:
        assert tar.getmember("app/run").mode & 0o111


def test_smoke_test_wants_pyav_with_libx264_and_no_imageio_ffmpeg(tmp_path):
    spec = importlib.util.spec_from_file_location("atelier_smoke_test", ROOT / "packaging" / "smoke_test.py")
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    internal = tmp_path / "_internal"
    (internal / "av").mkdir(parents=True)
    assert smoke.video_bundle_problems(tmp_path) == ["libx264 is not in the bundle: MP4 export would fail"]
    (internal / "av.libs").mkdir()
    (internal / "av.libs" / "libx264-d6533a8d.so.165").write_bytes(b"\x7fELF")
    assert smoke.video_bundle_problems(tmp_path) == []
    (internal / "imageio_ffmpeg").mkdir()
    assert smoke.video_bundle_problems(tmp_path) == [
        "imageio_ffmpeg is in the bundle (the spec should exclude it)"]


def test_smoke_test_of_a_build_without_video_wants_no_pyav(tmp_path):
    spec = importlib.util.spec_from_file_location("atelier_smoke_test", ROOT / "packaging" / "smoke_test.py")
    smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(smoke)
    internal = tmp_path / "_internal"
    internal.mkdir()
    assert smoke.no_video_problems(tmp_path) == []
    (internal / "av.libs").mkdir()
    (internal / "av.libs" / "libavcodec-5e6b81c2.so.62").write_bytes(b"\x7fELF")
    assert smoke.no_video_problems(tmp_path) == [
        "PyAV is in a bundle built --without-video",
        "ffmpeg libraries are in a bundle built --without-video"]


def test_a_build_without_video_is_packaged_under_its_own_name():
    build = load_build_module()
    assert build.package_name().endswith(f"-linux-{platform.machine()}")
    assert build.package_name(with_video=False).endswith(f"-linux-{platform.machine()}-novideo")
