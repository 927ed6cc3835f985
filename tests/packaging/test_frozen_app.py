"""The frozen app, built with PyInstaller, passes its self-test headless and offline.

Slow (a build takes minutes): `python -m pytest -m slow tests/packaging`. It uses
an existing build in dist/ (or $LATENT_ATELIER_FROZEN_APP, the executable) and
builds one with packaging/build.py when there is none.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"atelier_{name}", ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frozen_executable() -> Path:
    given = os.environ.get("LATENT_ATELIER_FROZEN_APP")
    if given:
        return Path(given)
    smoke = load("smoke_test")
    if not smoke.DEFAULT_EXE.exists():
        pytest.importorskip("PyInstaller")
        subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--no-archive"],
                       check=True, cwd=ROOT)
    return smoke.DEFAULT_EXE


def built_with_video(executable: Path) -> bool:
    """False for the build in dist/ when build.py reported it was made --without-video."""
    report = ROOT / "dist" / "build-report.json"
    if executable != load("smoke_test").DEFAULT_EXE or not report.exists():
        return True
    return json.loads(report.read_text()).get("video", True)


def test_frozen_app_self_test_passes_offline_and_writes_nothing_beside_itself(frozen_executable):
    result = load("smoke_test").smoke_test(frozen_executable, built_with_video(frozen_executable))
    assert result["failures"] == []
    assert result["window_ready_seconds"] is not None
