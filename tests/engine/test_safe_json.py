"""Bounded JSON reading: hostile nesting, FIFOs and huge files are refused with a
ValueError/OSError that callers already turn into one clear line."""
from __future__ import annotations

import json
import os

import pytest

from engine.storage import safe_json
from engine.runs.folders import RunDir


@pytest.mark.parametrize("text, depth", [
    ("{}", 1), ("[[1], {\"a\": [2]}]", 3), ('{"a": "[[[{{{"}', 1),
    ('{"a": "\\\\"}', 1), ('["\\"[[[", [1]]', 2), ("3", 0),
])
def test_nesting_depth_ignores_brackets_inside_strings(text, depth):
    assert safe_json.nesting_depth(text) == depth
    json.loads(text)   # every case is valid JSON


def test_deep_nesting_is_refused_before_parsing():
    with pytest.raises(ValueError, match="5,?000 levels deep|5000 levels deep"):
        safe_json.loads("[" * 5000 + "]" * 5000)
    assert safe_json.loads("[" * 10 + "]" * 10) == [[[[[[[[[[]]]]]]]]]]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        safe_json.read_json(fifo)


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "1," * 100 + "1]")
    with pytest.raises(OSError, match="allowed"):
        safe_json.read_json(path, max_bytes=50)


def test_a_deep_config_is_one_clear_error_naming_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"model": "dcgan", "model_config": ' + "[" * 5000
                                          + "]" * 5000 + "}")
    with pytest.raises(Exception) as info:
        RunDir(tmp_path).read_config()
    assert "config.json" in str(info.value) and "deep" in str(info.value)
    assert not isinstance(info.value, RecursionError)


def test_null_and_deep_metrics_lines_are_skipped(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnull\n' + "[" * 3000 + "]" * 3000
                                            + '\n7\n{"step": 2}\n')
    assert RunDir(tmp_path).read_metrics() == [{"step": 1}, {"step": 2}]
