"""The layer rules as import contracts (pyproject.toml, [tool.importlinter]).

Beside them, tests/engine/test_model_name_scan.py keeps model and family
names inside the family modules.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ("engine-headless", "families-independent", "models-below-engine",
             "engine-layers", "data-below-models")


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages under `root`, in its own process so that
    the packages are found there and not among those this test run imported."""
    limit = [arg for contract in contracts for arg in ("--contract", contract)]
    env = dict(os.environ, PYTHONPATH=str(root), NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--config", str(root / "pyproject.toml"), "--no-cache", *limit],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_every_layer_rule_is_a_contract():
    from importlinter.api import read_configuration

    configured = read_configuration(str(ROOT / "pyproject.toml"))["contracts_options"]
    assert sorted(c["id"] for c in configured) == sorted(CONTRACTS)


def test_the_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


# One stray import per contract, added to a copy of the tree.
BREAKS = {
    "engine-headless": ("engine/errors.py", "import PySide6.QtCore"),
    "families-independent": ("engine/models/draw.py", "import engine.models.vae"),
    "models-below-engine": ("engine/models/base.py", "import engine.training"),
    "data-below-models": ("engine/data/report.py", "import engine.models.registry"),
    # The run folders reaching up into the studio (a layer above them).
    "engine-layers": ("engine/runs/lock.py", "import engine.studio.sampling"),
}


@pytest.mark.parametrize("contract", CONTRACTS)
def test_a_stray_import_breaks_its_contract(tmp_path, contract):
    for package in ("engine", "desktop_app"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    module, stray = BREAKS[contract]
    with open(tmp_path / module, "a", encoding="utf-8") as f:
        f.write(f"\n{stray}  # a stray import\n")

    result = lint_imports(tmp_path, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout, result.stdout
