"""The colour-set tool: deterministic, both kinds of picture, a loadable folder."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FONT_ROOT = Path("/usr/share/fonts")


def _tool():
    spec = importlib.util.spec_from_file_location("make_colour_set",
                                                  ROOT / "tools" / "make_colour_set.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    pytest.importorskip("skimage", reason="the tool's own dependency (pip install scikit-image)")
    if not FONT_ROOT.is_dir():
        pytest.skip("no system fonts to render glyphs from")
    return _tool()


def test_same_arguments_write_the_same_pictures(tool, tmp_path):
    config = tool.SetConfig(count=12, size=16, seed=3)
    first = tool.write_set(tmp_path / "a", config, FONT_ROOT)
    second = tool.write_set(tmp_path / "b", config, FONT_ROOT)
    assert [p.relative_to(tmp_path / "a") for p in first] == \
        [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    classes = {p.parent.name for p in first}
    assert classes & set(tool.SCRIPTS) and classes - set(tool.SCRIPTS)   # glyphs and photos
    picture = np.asarray(Image.open(first[0]))
    assert picture.shape == (16, 16, 3) and picture.std() > 0


def test_the_folder_loads_as_data(tool, tmp_path):
    from engine.data.sources import load_data
    tool.write_set(tmp_path / "set", tool.SetConfig(count=8, size=16), FONT_ROOT)
    data = load_data(f"folder:{tmp_path / 'set'}?labels=subfolders", size=16, cache=False)
    assert len(data) == 8


def test_refuses_a_folder_with_pictures_in_it(tool, tmp_path):
    (tmp_path / "old.png").write_bytes(b"")
    with pytest.raises(ValueError, match="not empty"):
        tool.write_set(tmp_path, tool.SetConfig(count=2, size=16), FONT_ROOT)
    assert tool.main([str(tmp_path), "--n", "0"]) == 1
