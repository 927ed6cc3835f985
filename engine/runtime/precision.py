"""Mixed precision, written once for every model family.

A family's train_step runs its networks' forward passes under
`precision.autocast()`, computes its losses in float32 from the outputs (cast
with `.float()`), and replaces `loss.backward()` / `optimizer.step()` with
`precision.backward(loss)` / `precision.step(optimizer)`, then calls
`precision.update()` once at the end of the step. In "fp32" all of these are
the plain calls, so a float32 run is unchanged bit for bit.

- bf16: autocast to bfloat16. It has float32's range, so gradients cannot
  overflow and no loss scaling is needed.
- fp16: autocast to float16 with a GradScaler: the loss is multiplied by a
  large scale before backward so small gradients survive float16's range, the
  gradients are unscaled before the update, and a step whose gradients hold an
  inf or NaN is skipped (the scale halves instead). Such a skipped step is not
  a divergence; a long streak of them is (see `tolerate_skipped`).

Weights, optimiser state and sampling stay float32 whatever the setting.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from engine.errors import ConfigError

PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
# Short enough for the Train page's settings column; the combo's tooltip says more.
PRECISION_LABELS = {"auto": "Automatic",
                    "fp32": "Full (float32)",
                    "bf16": "Mixed bfloat16",
                    "fp16": "Mixed float16"}
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# A healthy fp16 run skips a few steps while the scale settles and then one
# now and again; this many skipped in a row means the loss itself overflows.
MAX_SKIPPED_IN_A_ROW = 30


def cpu_has_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX-512 BF16 or AMX tiles), where
    oneDNN's bfloat16 convolutions beat float32 ones; elsewhere they are emulated
    and slower, so float32 stays."""
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None),
              getattr(torch.cpu, "_is_amx_tile_supported", None))
    try:
        return any(check is not None and check() for check in checks)
    except RuntimeError:   # a torch build without these checks' CPU probing
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """"auto" -> bf16 on a CUDA device that supports it, fp16 on other CUDA
    devices, fp32 elsewhere (CPU, MPS); an explicit choice is checked."""
    name = (name or "auto").strip().lower()
    if name not in PRECISION_CHOICES:
        raise ConfigError(f"unknown precision {name!r}; choose one of {', '.join(PRECISION_CHOICES)}")
    if name == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if name == "fp32":
        return name
    if not torch.amp.is_autocast_available(device.type):
        raise ConfigError(f"{name} needs autocast, which {device.type} does not have here; "
                          "choose fp32")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"this GPU ({torch.cuda.get_device_name(device)}) has no bfloat16; "
                          "choose fp16 or auto")
    return name


class MixedPrecision:
    """Autocast context and a loss-scaler-aware backward and step for one device."""

    def __init__(self, mode: str, device: torch.device) -> None:
        if mode not in ("fp32", *DTYPES):
            raise ConfigError(f"precision must be fp32, bf16 or fp16, not {mode!r}")
        self.mode = mode
        self.device = device
        self.dtype = DTYPES.get(mode, torch.float32)
        self.scaler = _grad_scaler(device) if mode == "fp16" else None
        # On the device, so the loop never waits for it: whether the scaler
        # skipped the last step, and how many steps in a row it skipped.
        self.skipped: torch.Tensor | None = None
        self.skip_streak: torch.Tensor | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        """Forward passes inside this run in the low-precision dtype where it is
        safe (matrix products, convolutions) and float32 elsewhere."""
        if self.mode == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer,
             clip: tuple[Iterable[nn.Parameter], float] | None = None) -> None:
        """The optimiser's update; with `clip` (parameters, max norm) the
        gradients are clipped first, after unscaling so the norm is the true one."""
        if clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(clip[0], clip[1])
        if self.scaler is not None:
            self.scaler.step(optimizer)   # skipped when the gradients hold inf/NaN
        else:
            optimizer.step()

    def update(self) -> None:
        """End of a training step: the scaler grows or backs off its scale."""
        if self.scaler is None:
            return
        before = self._scale()
        self.scaler.update()
        # The scale shrinks exactly when some gradient of this step overflowed.
        self.skipped = self._scale() < before
        streak = self.skip_streak if self.skip_streak is not None else torch.zeros_like(before)
        self.skip_streak = torch.where(self.skipped, streak + 1, torch.zeros_like(streak))

    def abandon_step(self) -> None:
        """Forget a step cut short (out of memory, a failed compilation): the
        scaler keeps its scale and growth count, but none of the half-done
        step's bookkeeping, which would refuse the next step."""
        if self.scaler is not None:
            state = self.scaler.state_dict()
            self.scaler = _grad_scaler(self.device)
            self.scaler.load_state_dict(state)

    def input_gradient(self, output: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """d output / d inputs, differentiable (create_graph), as a gradient
        penalty needs. Under fp16 the output is scaled first so small gradients
        survive, and the result is unscaled (an overflow makes the penalty inf,
        and the scaler then skips the step)."""
        if self.scaler is None:
            (grad,) = torch.autograd.grad(output, inputs, create_graph=True)
            return grad
        (grad,) = torch.autograd.grad(self.scaler.scale(output), inputs, create_graph=True)
        return grad / self._scale()

    def tolerate_skipped(self, finite: torch.Tensor) -> torch.Tensor:
        """A step's "losses are finite" flag, with a step the scaler skipped
        counted as fine (it changed no weight) unless it ends a long streak."""
        if self.skipped is None:
            return finite
        return (finite | self.skipped) & (self.skip_streak < MAX_SKIPPED_IN_A_ROW)

    def counted(self) -> torch.Tensor | None:
        """1.0 for a step whose losses belong in the reported means, 0.0 for one
        the scaler skipped; None when nothing is ever skipped."""
        return None if self.skipped is None else (~self.skipped).float()

    def state_dict(self) -> dict[str, Any]:
        """The loss scaler's state (JSON-able), for exact resume; {} without one."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        # A run resumed in another precision starts a fresh scaler (or none).
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)

    def _scale(self) -> torch.Tensor:
        # The current scale as a device tensor, read without waiting for the device.
        return self.scaler.scale(torch.ones((), device=self.device))


def _grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    try:
        return torch.amp.GradScaler(device.type)
    except (RuntimeError, ValueError) as exc:   # a device torch has no scaler for
        raise ConfigError(f"fp16 needs loss scaling, which {device.type} does not have here "
                          f"({exc}); choose bf16 or fp32") from None
