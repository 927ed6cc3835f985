"""What the spec strips from the bundle's native libraries and which bytecode it leaves out.

Pure functions of a file's place in the bundle (and of the list of modules the
app imports, from packaging/imported_modules.py), so they are tested without a
build. Sizes saved are measured in docs/PACKAGING.md.
"""
from __future__ import annotations

import fnmatch
from pathlib import PurePosixPath

# Symbol tables too: torch's two big libraries are only ever called through
# their dynamic symbols, which --strip-unneeded keeps (434 MB -> 345 MB, 30 -> 22).
STRIP_UNNEEDED = ("libtorch_cpu.so", "libtorch_python.so")

# Never stripped at all: the libraries auditwheel copied into a wheel's
# `<name>.libs` folder and patched (numpy's OpenBLAS and gfortran stop loading
# when stripped: "ELF load command address/offset not page-aligned"). PyAV's
# and Pillow's are stripped already, so leaving them whole costs nothing.
NEVER_STRIPPED = ("*.libs/*", "*openblas*")

# Packages whose modules the app never imports, so their bytecode can go.
# They are torch.compile's compiler stack (the frozen app cannot compile: it
# ships no C++ headers and no compiler, see engine.runtime.compilation), distributed
# training, ONNX and graph export, test helpers, and what only those use.
# Modules of these packages that a training step does import (constructing an
# optimizer imports parts of torch._dynamo, sympy and torch._inductor) stay.
UNUSED_PACKAGES = (
    "torch._inductor", "torch._dynamo", "torch._functorch", "torch.fx", "torch._export",
    "torch.export", "torch.onnx", "torch.testing", "torch.distributed", "torch.utils.benchmark",
    "torch._vendor", "torchgen", "sympy", "networkx", "fsspec", "filelock", "numpy.f2py",
    "pydoc_data",
)


def strip_option(dest: str) -> str | None:
    """The `strip` option for the native file at bundle path `dest`, or None to keep it whole.

    Every other shared library and extension module loses only its debug
    information (--strip-debug), which the dynamic loader never reads: libpython
    alone carries 17 MB of it, PyAV's extension modules 26 MB."""
    path = PurePosixPath(dest.replace("\\", "/"))
    name = path.name
    if any(fnmatch.fnmatch(str(path), pattern) for pattern in NEVER_STRIPPED):
        return None
    if name in STRIP_UNNEEDED:
        return "--strip-unneeded"
    if name.endswith(".so") or ".so." in name:
        return "--strip-debug"
    return None


def unused_bytecode(module: str, imported: set[str]) -> bool:
    """Whether `module`'s bytecode can be left out: it belongs to a package in
    UNUSED_PACKAGES and the app never imported it."""
    if module in imported:
        return False
    return any(module == package or module.startswith(package + ".")
               for package in UNUSED_PACKAGES)
