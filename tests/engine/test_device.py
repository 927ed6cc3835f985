"""engine.runtime.device: choosing the device work runs on."""
from __future__ import annotations

import pytest
import torch

from engine.runtime.device import DEVICE_CHOICES, available_devices, resolve_device
from engine.errors import ConfigError


def test_available_devices_ends_with_cpu():
    found = available_devices()
    assert found[-1] == "cpu"
    assert set(found) <= set(DEVICE_CHOICES)
    assert ("cuda" in found) == torch.cuda.is_available()


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu ", "Cpu"])
def test_cpu_spellings(name):
    assert resolve_device(name) == torch.device("cpu")


@pytest.mark.parametrize("name", ["auto", "", None, "AUTO"])
def test_auto_picks_the_best_available(name):
    assert resolve_device(name).type == available_devices()[0]


def test_auto_is_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert available_devices() == ["cpu"]
    assert resolve_device("auto") == torch.device("cpu")


def test_auto_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert available_devices()[0] == "cuda"
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("name", ["cuda:2", "cuda:x", "cuda:"])
def test_missing_cuda_index_is_a_clear_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["tpu", pytest.param("gpu", id="the-word-g-p-u"), "xla:0", "cuda-1"])
def test_unknown_device(name):
    with pytest.raises(ConfigError, match="unknown device") as info:
        resolve_device(name)
    assert "auto, cpu, cuda, mps" in str(info.value)


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps"])
def test_unavailable_device(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="not available on this machine") as info:
        resolve_device(name)
    assert "available: cpu" in str(info.value)


@pytest.mark.gpu
def test_real_cuda_device():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    device = resolve_device("cuda")
    assert torch.ones(2, device=device).sum().item() == 2
