"""The build leaves out the sources of torch modules the app never imports;
packaging/imported_modules.py says which modules it imports."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def load_probe():
    spec = importlib.util.spec_from_file_location("atelier_imported_modules",
                                                  ROOT / "packaging" / "imported_modules.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_only_torch_sources_that_torch_may_read_stay(tmp_path):
    probe_module = load_probe()
    probe = probe_module.Probe(modules=frozenset({"torch", "torch.nn", "torch.nn.functional",
                                                  "torch.optim.adam", "torch._dynamo.config",
                                                  "numpy"}),
                               sources_read=frozenset({"torch._dynamo.config"}))
    plain = tmp_path / "plain.py"
    plain.write_text("def step(x):\n    return x + 1\n")
    scripted = tmp_path / "scripted.py"
    scripted.write_text("@torch.jit.script\ndef f(x):\n    return x\n")
    left_out = probe_module.torch_source_left_out
    assert left_out("torch/onnx/utils.py", plain, probe)             # never imported
    assert left_out("torch/onnx/__init__.py", plain, probe)
    assert left_out("torch/optim/adam.py", plain, probe)             # imported, never read
    assert not left_out("torch/_dynamo/config.py", plain, probe)     # read in the probe
    assert not left_out("torch/nn/functional.py", scripted, probe)   # TorchScript reads it
    assert not left_out("torch\\nn\\functional.py", scripted, probe)  # Windows separators
    assert not left_out("torch/lib/libtorch_cpu.so", plain, probe)   # libraries are never sources
    assert not left_out("torch/_export/serde/schema.yaml", plain, probe)
    assert not left_out("numpy/random/mtrand.py", plain, probe)      # only torch is trimmed


def test_text_that_reads_its_own_source_is_recognised():
    needs = load_probe().needs_own_source
    for text in ("@torch.jit.script", "torch.jit._overload_method", "install_config_module(",
                 "@torch.library.custom_op('x::y')", "inspect.getsource(fn)", "@_overload"):
        assert needs(text), text
    assert not needs("import torch\nx = torch.zeros(3)\n")


def test_the_spec_uses_the_probe_and_can_keep_every_source():
    spec = (ROOT / "packaging" / "latent_atelier.spec").read_text(encoding="utf-8")
    compile(spec, "latent_atelier.spec", "exec")
    assert "probe_app()" in spec and "LATENT_ATELIER_ALL_SOURCES" in spec


@pytest.mark.slow
def test_the_probe_lists_what_training_sampling_and_the_gui_import():
    probe = load_probe().probe_app()
    assert {"torch", "torch._dynamo", "torch.optim.adam", "engine.models.gan",
            "engine.studio.exporters.mp4", "desktop_app.main_window", "PySide6.QtWidgets"} <= probe.modules
    # torch reads the sources of its config modules and TorchScript'd functions;
    # each of them is also kept by its text, so a build never depends on the probe alone.
    assert {"torch._dynamo.config", "torch.nn.functional"} <= probe.sources_read
    site = Path(__import__("torch").__file__).parent.parent
    for module in probe.sources_read:
        path = site / (module.replace(".", "/") + ".py")
        path = path if path.exists() else site / module.replace(".", "/") / "__init__.py"
        assert load_probe().needs_own_source(path.read_text(encoding="utf-8")), module


def test_the_source_watch_counts_torch_reading_its_source_not_the_importer(tmp_path):
    """Without cached bytecode the importer reads every .py; only a read by torch's
    own code (here inspect.getsource inside the package) may count."""
    import subprocess

    package = tmp_path / "site" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import plain\n")   # torch importing torch
    (package / "plain.py").write_text("X = 1\n")
    (package / "reader.py").write_text("import inspect\n\ndef read():\n"
                                       "    return inspect.getsource(read)\n\nSOURCE = read()\n")
    script = (
        "import sys, json; sys.dont_write_bytecode = True\n"
        f"sys.path.insert(0, {str(ROOT / 'packaging')!r})\n"
        "from pathlib import Path\n"
        "from imported_modules import SourceReadWatch\n"
        f"watch = SourceReadWatch(Path({str(package)!r}))\n"
        f"sys.path.insert(0, {str(package.parent)!r})\n"
        "import torch, torch.reader\n"
        "print(json.dumps(sorted(watch.read)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '["torch.reader"]'


def test_the_probe_writes_no_mp4_where_there_is_no_video(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)      # building without video, no PyAV
    load_probe().exercise_exports(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written and not any(name.endswith(".mp4") for name in written)
    assert "walk-gif.gif" in written
