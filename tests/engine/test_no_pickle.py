"""Nothing the app loads is unpickled: a check of the source itself."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = [
    (re.compile(r"\btorch\.load\((?![^)]*weights_only\s*=\s*True)"), "torch.load without weights_only=True"),
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\bnp\.load\((?![^)]*allow_pickle\s*=\s*False)"), "np.load without allow_pickle=False"),
]


def test_no_unpickling_anywhere_in_the_app():
    found = []
    for folder in ("engine", "desktop_app", "resources"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern, what in UNSAFE:
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)


def test_the_check_itself_catches_an_unsafe_load():
    pattern, _ = UNSAFE[0]
    assert pattern.search("state = torch.load(path)")
    assert not pattern.search("state = torch.load(path, weights_only=True)")
