"""Refusing weights that hold NaN or infinite values.

A model that diverged can be saved or exported like any other; its samples
are then black (or NaN) tiles and its scores fail deep inside linear algebra.
Checking the loaded tensors names the first bad one instead.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch


def first_nonfinite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or an infinity,
    or None when every value is finite."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def nonfinite_message(tensor: str) -> str:
    """Why such weights are refused, to follow the file's name."""
    return (f"tensor {tensor!r} holds NaN or infinite values (training diverged before "
            "these weights were saved); they cannot draw images")
