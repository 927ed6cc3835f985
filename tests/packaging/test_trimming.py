"""How the spec strips native libraries and which bytecode it leaves out."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def load_trimming():
    spec = importlib.util.spec_from_file_location("atelier_trimming",
                                                  ROOT / "packaging" / "trimming.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torch_loses_symbols_others_only_debug_information_and_openblas_nothing():
    strip_option = load_trimming().strip_option
    assert strip_option("torch/lib/libtorch_cpu.so") == "--strip-unneeded"
    assert strip_option("torch/lib/libtorch_python.so") == "--strip-unneeded"
    assert strip_option("libpython3.11.so.1.0") == "--strip-debug"
    assert strip_option("av/video/frame.abi3.so") == "--strip-debug"
    assert strip_option("python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so") \
        == "--strip-debug"
    assert strip_option("numpy.libs/libscipy_openblas64_-32a4b2a6.so") is None
    assert strip_option("numpy.libs\\libgfortran-040039e1.so.5.0.0") is None   # Windows separators
    assert strip_option("av.libs/libavcodec-5e6b81c2.so.62.28.102") is None     # auditwheel's
    assert strip_option("pillow.libs/libXau-154567c4.so.6.0.0") is None
    assert strip_option("resources/data/mnist/t10k-images-idx3-ubyte.gz") is None
    assert strip_option("base_library.zip") is None


def test_only_never_imported_modules_of_the_unused_packages_lose_their_bytecode():
    unused = load_trimming().unused_bytecode
    imported = {"torch", "torch._dynamo", "torch._dynamo.utils", "sympy", "torch.optim"}
    assert unused("torch._inductor.codegen.cpp", imported)
    assert unused("torch.distributed.fsdp", imported)
    assert unused("networkx", imported) and unused("networkx.algorithms.dag", imported)
    assert unused("sympy.physics", imported)
    assert not unused("torch._dynamo.utils", imported)     # an optimizer imports it
    assert not unused("sympy", imported)
    assert not unused("torch.optim.sgd", imported)         # not in an unused package
    assert not unused("torch.ao.quantization", imported)
    assert not unused("torch._inductorx", imported)        # a prefix is a package, not text


def test_the_spec_strips_and_trims_through_these_functions():
    spec = (ROOT / "packaging" / "latent_atelier.spec").read_text(encoding="utf-8")
    compile(spec, "latent_atelier.spec", "exec")
    assert "strip_option(dest)" in spec and "unused_bytecode(entry[0], _probe.modules)" in spec
    assert "strip=False" in spec     # never PyInstaller's strip-everything (breaks OpenBLAS)


def test_a_debug_stripped_extension_module_still_imports(tmp_path):
    """--strip-debug leaves what the loader needs: a stripped copy of a real
    extension module imports and works."""
    import shutil
    import subprocess

    import pytest

    strip = shutil.which("strip")
    if strip is None or not sys.platform.startswith("linux"):
        pytest.skip("needs GNU strip on Linux")
    import _decimal

    copy = tmp_path / Path(_decimal.__file__).name
    shutil.copy2(_decimal.__file__, copy)
    subprocess.run([strip, load_trimming().strip_option(copy.name), str(copy)], check=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import _decimal; "
            "assert _decimal.__file__.startswith(sys.argv[1]); "
            "print(_decimal.Decimal(1) / _decimal.Decimal(8))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.125"
