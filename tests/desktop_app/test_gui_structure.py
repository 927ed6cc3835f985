"""The GUI's structure: no import cycle between a page and its parts, and the
main window talks to pages through what they expose, not through their widgets."""
from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "desktop_app"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_train_presets_does_not_import_the_train_page():
    # Even under TYPE_CHECKING: the preset works on the fields it is given.
    assert "desktop_app.pages.train_page" not in _imported_modules(
        APP / "pages" / "train_presets.py")


def test_main_window_uses_no_page_widget():
    source = (APP / "main_window.py").read_text(encoding="utf-8")
    # A page's widgets are named by their kind (model_combo, sample_view, ...).
    reached = re.findall(r"_page\.\w+_(?:combo|spin|view|button|check|label|box|plot)\b", source)
    assert reached == []
