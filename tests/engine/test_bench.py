"""engine.diagnostics.bench: throughput on the training code path."""
from __future__ import annotations

import json
import sys

import pytest

from engine.diagnostics.bench import bench
from engine.errors import ConfigError


def test_bench_reports_throughput_and_memory(tiny_config):
    result = bench(tiny_config(), steps=3, warmup=1)
    assert result["images_per_second"] > 0
    assert result["seconds"] > 0
    assert result["images_per_second"] == pytest.approx(3 * 8 / result["seconds"])
    assert result["steps"] == 3 and result["batch_size"] == 8 and result["width"] == 8
    assert result["model"] == "dcgan" and result["image_size"] == 28
    assert result["device"] == "cpu" and result["torch_threads"] >= 1
    assert result["parameters"] > 0
    if sys.platform != "win32":
        assert result["peak_memory_mb"] > 10
    assert result["peak_memory_kind"] == "process max RSS"
    json.dumps(result)  # plain data: the CLI prints it as JSON


def test_bench_mlp_gan_at_32(tiny_config):
    result = bench(tiny_config(model="mlp-gan", image_size=32, width=None), steps=2, warmup=0)
    assert result["images_per_second"] > 0 and result["image_size"] == 32


def test_bench_writes_nothing(tiny_config, atelier_home, tmp_path):
    bench(tiny_config(), steps=1, warmup=0)
    assert not (atelier_home / "runs").exists()


def test_bench_rejects_a_bad_config(tiny_config):
    with pytest.raises(ConfigError, match="batch size"):
        bench(tiny_config(batch_size=0), steps=1)
