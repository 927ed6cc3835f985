"""benchmarks/suite.py: the table it writes and the docs section it regenerates
(measuring itself is left to running it; benchmarks never assert a time)."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def suite(monkeypatch):
    spec = importlib.util.spec_from_file_location("suite", ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "suite", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ARGS = argparse.Namespace(repeats=3, steps=10, warmup=3, device="cpu")


def test_table_has_medians_ratios_and_skips(suite):
    results = {"dcgan-64": {"model": "dcgan", "ours": [40.0, 44.0, 42.0],
                            "reference": [30.0, 35.0, 28.0], "peak_memory_mb": [700, 720, 710]},
               "mlp-gan": {"model": "mlp-gan", "ours": [3000.0, 3100.0, 2900.0], "reference": [],
                           "peak_memory_mb": [400, 400, 400]}}
    text = suite.table(results, ["MLP VAE (needs mlp-vae or vae)"], ARGS)
    row = next(line for line in text.splitlines() if line.startswith("| dcgan 64x64"))
    assert "| 42.0 | 30.0 | **1.40x** |" in row and "| 710 |" in row
    assert "(no reference)" in text and "Skipped (model not in this build): MLP VAE" in text


def test_update_docs_replaces_only_the_generated_section(suite, tmp_path, monkeypatch):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nhand-written\n")
    monkeypatch.setattr(suite, "DOCS", doc)
    suite.update_docs("first table\n")
    suite.update_docs("second table\n")
    text = doc.read_text()
    assert text.count(suite.BEGIN) == 1 and "second table" in text and "first table" not in text
    assert text.startswith("# Benchmarks\n\nhand-written\n")


def test_every_reference_case_names_a_reference_model(suite):
    for case in suite.CASES:
        if case.reference is not None:
            assert case.reference[0] in ("vae", "dcgan")
