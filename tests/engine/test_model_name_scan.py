"""Outside engine/models, no code names a model or family: each consumer reads
the ModelSpec (engine.models.registry), so a new family is one file.

The rule: no string literal in engine/ or desktop_app/ (outside engine/models/)
equals a registered model name or a family name. Longer texts that mention a
model (help examples, docs) are fine; a literal equal to one is a branch or a
table keyed by it.
"""
from __future__ import annotations

import ast
from pathlib import Path

from engine.models import model_specs

ROOT = Path(__file__).resolve().parents[2]
# Where a model name is a product choice, not a branch: the default model.
ALLOWED = {
    "desktop_app/pages/train_page.py": {"dcgan"},  # the model selected at start
    "engine/diagnostics/self_test.py": {"mlp-gan"},            # the installation check trains this one
}


def _names() -> set[str]:
    specs = model_specs()
    return {s.name for s in specs} | {s.family.family for s in specs}


def scan(root: Path) -> dict[str, set[str]]:
    """file (relative) -> the model or family names its string literals equal."""
    names = _names()
    found: dict[str, set[str]] = {}
    for folder in ("engine", "desktop_app"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("engine/models/"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            hits = {node.value for node in ast.walk(tree)
                    if isinstance(node, ast.Constant) and node.value in names}
            if hits:
                found[rel] = hits
    return found


def test_no_module_outside_the_families_names_a_model():
    unexpected = {rel: hits - ALLOWED.get(rel, set()) for rel, hits in scan(ROOT).items()}
    unexpected = {rel: hits for rel, hits in unexpected.items() if hits}
    assert not unexpected, f"model names outside engine/models: {unexpected}"


def test_the_scan_finds_a_name(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "desktop_app").mkdir()
    (tmp_path / "engine" / "x.py").write_text('if model == "dcgan":\n    pass\n')
    assert scan(tmp_path) == {"engine/x.py": {"dcgan"}}
