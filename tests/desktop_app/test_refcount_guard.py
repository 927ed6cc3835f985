"""The guard against the Qt bindings' None reference leak (desktop_app.refcount_guard):
with it, a long session of Qt calls that return nothing cannot abort the app."""
from __future__ import annotations

import subprocess
import sys

import pytest

LOOP = """
import sys
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
{guard}
before = sys.getrefcount(None)
for _ in range(100_000):
    label.setText("frame")            # returns nothing
print(sys.getrefcount(None) - before)
"""


def run(guard: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LOOP.format(guard=guard)], capture_output=True,
                          text=True, timeout=120, env={"QT_QPA_PLATFORM": "offscreen",
                                                       "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_the_guard_keeps_none_alive_through_a_long_session():
    guarded = run("from desktop_app.refcount_guard import pin_singletons\n"
                  "assert pin_singletons()")
    assert guarded.returncode == 0, guarded.stderr
    leaked = -int(guarded.stdout.strip())
    if leaked == 0:
        pytest.skip("these Qt bindings do not leak None's references")
    # Unguarded, the same loop runs None's count down to zero and aborts.
    bare = run("")
    assert bare.returncode != 0 and "none_dealloc" in bare.stderr


def test_the_app_pins_before_any_qt_call():
    source = (__import__("pathlib").Path(__file__).parents[2] / "desktop_app" / "app.py").read_text()
    body = source.split("def main(", 1)[1]
    assert body.index("pin_singletons()") < body.index("QApplication")
