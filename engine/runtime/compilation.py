"""Opt-in torch.compile of a model's networks for training, with a safe way back.

Each trainable network's forward is replaced by a compiled one that is used
only while training (grad enabled, train mode); sampling, reconstruction and
likelihoods keep the eager forward, so they never wait for a compilation and
weights are saved under their usual names.

Compilation is lazy: it happens during the first step (and again when the
batch shape changes), and it can fail there (no C++ compiler, an operation the
compiler does not support, a double backward as WGAN-GP's gradient penalty
needs). Before such a step the model's whole state is copied; if the step
raises, the copy is restored, every network goes back to eager, and the same
batch is trained again, so the run continues exactly as an eager run would,
and the caller gets one message to show.
"""
from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from engine.errors import AtelierError

if TYPE_CHECKING:
    from engine.models.base import GenerativeModel


def compile_unavailable() -> str | None:
    """None where torch.compile can work, else why not, in one sentence for the user.

    The installed app ships neither a C++ compiler nor torch's C++ headers (and
    leaves out most of the compiler's own modules, packaging/trimming.py), so
    compilation there could only fail; it says so up front instead."""
    if getattr(sys, "frozen", False):
        return ("the installed app cannot compile (torch.compile needs a C++ compiler and "
                "torch's headers); install the Python package to use it")
    return None


class CompiledTraining:
    """The compiled forwards of one model and the fallback to eager."""

    def __init__(self, model: GenerativeModel) -> None:
        self.model = model
        self.active = False
        self.failure: str | None = None     # why compilation was given up, once known
        self._compiled: set[str] = set()   # networks whose forward is replaced
        self._last_shape: tuple[int, ...] | None = None
        self.unavailable = compile_unavailable()   # never attempted, and why
        if self.unavailable is not None:
            return
        try:
            for name, net in model.networks().items():
                if any(p.requires_grad for p in net.parameters()):  # not an EMA copy
                    net.forward = _training_only(net, torch.compile(net.forward))
                    self._compiled.add(name)
            self.active = True
        except Exception as exc:  # noqa: BLE001 - any failure means: train eagerly
            self._to_eager(exc)

    def run(self, step: Callable[[], dict[str, torch.Tensor]], batch_shape: tuple[int, ...]
            ) -> dict[str, torch.Tensor]:
        """One training step; on a compilation failure, the same step in eager mode."""
        if not self.active:
            return step()
        if batch_shape == self._last_shape:
            # Same shapes as a step that compiled and ran: nothing new to compile.
            return step()
        saved = _snapshot(self.model)
        try:
            losses = step()
        except (AtelierError, torch.OutOfMemoryError):
            raise   # not the compiler's doing: the trainer handles these
        except Exception as exc:  # noqa: BLE001 - the compiler failed; eager is always correct
            _restore(self.model, saved)
            self._to_eager(exc)
            return step()
        self._last_shape = batch_shape
        return losses

    def _to_eager(self, exc: BaseException) -> None:
        for name, net in self.model.networks().items():
            if name in self._compiled:
                del net.forward   # the class's own forward again
        self._compiled.clear()
        self.active = False
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.failure = f"{type(exc).__name__}: {reason[:300]}"


def _training_only(net: nn.Module, compiled: Callable[..., Any]) -> Callable[..., Any]:
    eager = net.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        if net.training and torch.is_grad_enabled() and not torch.is_inference_mode_enabled():
            return compiled(*args, **kwargs)
        return eager(*args, **kwargs)

    return forward


def _snapshot(model: GenerativeModel) -> tuple[dict[str, dict[str, torch.Tensor]],
                                               dict[str, torch.Tensor], dict[str, Any]]:
    weights = {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
               for name, net in model.networks().items()}
    tensors, settings = model.training_state()
    return weights, {k: v.detach().clone() for k, v in tensors.items()}, copy.deepcopy(settings)


def _restore(model: GenerativeModel, saved) -> None:
    weights, tensors, settings = saved
    model.precision.abandon_step()
    with torch.no_grad():
        for name, net in model.networks().items():
            net.load_state_dict(weights[name])
    for optimizer in model.optimizers().values():
        optimizer.zero_grad(set_to_none=True)
    model.load_training_state(tensors, settings)
