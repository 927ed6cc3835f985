"""The build leaves out the sources of torch modules the app never imports;
packaging/imported_modules.py says which modules it imports."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def load_probe():
    spec = importlib.util.spec_from_file_location("atelier_imported_modules",
                                                  ROOT / "packaging" / "imported_modules.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_sources_of_torch_modules_not_imported_are_left_out():
    unused = load_probe().unused_torch_source
    imported = {"torch", "torch.nn", "torch.nn.functional", "numpy"}
    assert unused("torch/onnx/utils.py", imported)
    assert unused("torch/onnx/__init__.py", imported)
    assert not unused("torch/__init__.py", imported)
    assert not unused("torch/nn/functional.py", imported)
    assert not unused("torch\\nn\\functional.py", imported)      # Windows separators
    assert not unused("torch/lib/libtorch_cpu.so", imported)     # libraries are never sources
    assert not unused("torch/_export/serde/schema.yaml", imported)
    assert not unused("numpy/random/mtrand.py", imported)        # only torch is trimmed


def test_the_spec_uses_the_probe_and_can_keep_every_source():
    spec = (ROOT / "packaging" / "latent_atelier.spec").read_text(encoding="utf-8")
    compile(spec, "latent_atelier.spec", "exec")
    assert "probe_imported_modules()" in spec and "LATENT_ATELIER_ALL_SOURCES" in spec


@pytest.mark.slow
def test_the_probe_lists_what_training_sampling_and_the_gui_import():
    modules = load_probe().probe_imported_modules()
    assert {"torch", "torch._dynamo", "torch.optim.adam", "engine.models.gan",
            "engine.exporters.mp4", "desktop_app.main_window", "PySide6.QtWidgets"} <= modules
