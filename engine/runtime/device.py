"""Choosing the device work runs on."""
from __future__ import annotations

import os

import torch

from engine.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """Devices usable on this machine, best first (always ends with "cpu")."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(name: str = "auto") -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:1" or "mps" into a usable torch.device."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind != "cpu" and kind not in available_devices():
        raise ConfigError(f"device {name!r} is not available on this machine "
                          f"(available: {', '.join(available_devices())})")
    if ":" in name:
        index = name.split(":", 1)[1]
        count = torch.cuda.device_count() if kind == "cuda" else 1
        if kind == "cpu" or not index.isdigit() or int(index) >= count:
            raise ConfigError(f"device {name!r} does not exist (this machine has "
                              f"{count if kind != 'cpu' else 'no numbered'} {kind} device(s))")
    return torch.device(name)


def device_usable(name: str) -> bool:
    """Whether `name` (as resolve_device takes it) names a device this machine has."""
    try:
        resolve_device(name)
    except ConfigError:
        return False
    return True


def available_memory(device: torch.device) -> int | None:
    """Free memory on the device in bytes, or None where it cannot be told."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        try:
            with open("/proc/meminfo", encoding="ascii") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return None
