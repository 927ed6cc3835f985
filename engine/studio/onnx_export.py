"""A run's picture-making network as an ONNX file, for other tools (a game
engine, a web page, a TensorFlow pipeline) to run without this app.

The family says what leaves (GenerativeModel.onnx_network(), the ONNX
capability): a generator or decoder (latent and label in, picture out), or the
denoiser of an iterative sampler (noisy picture, time and label in, prediction
out; the loop runs outside the file, docs/ONNX.md has one in numpy). This
module exports it with a dynamic batch axis and writes the input/output
contract into the file's metadata_props, so the file explains itself.

Exporter: torch.onnx.export(dynamo=True), the torch.export-based exporter that
is torch's default since 2.9; the TorchScript one is deprecated, warns on every
use and stops at opset 20. It needs the onnx and onnxscript packages, an
optional extra (`pip install "latent-atelier[onnx]"`): the packaged app leaves
them out with torch's export stack, and says so when asked to export.

Opset 18: the opset the exporter's operator library is written in, so no
version conversion step can fail, and one that onnxruntime (1.14 and later),
onnxruntime-web and the converters to TensorFlow read.
"""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine import __version__
from engine.errors import AtelierError, ConfigError
from engine.models import GenerativeModel, find_model
from engine.models.base import TRUNCATION
from engine.models.common.onnx_network import BATCH, TO_UINT8, OnnxNetwork
from engine.runs.bundles import inspect_bundle, load_bundle
from engine.runs.checkpoints import TRAINER_JSON, named_checkpoint, read_manifest
from engine.runs.folders import RunDir, free_space_note
from engine.storage import safe_json
from engine.storage.atomic import atomic_write

ONNX_OPSET = 18
# The truncation trick, for models that offer it (GenerativeModel.truncated_latents_for_seeds).
TRUNCATION_NOTE = ("optional: redraw each latent component whose magnitude exceeds a threshold "
                   "(e.g. 0.7) from the standard normal, for more typical pictures")
ONNX_SUFFIX = ".onnx"
FORMAT = "latent-atelier-onnx"
FORMAT_VERSION = 1
# What the exporter imports: onnxscript (which brings onnx and onnx_ir).
EXPORT_PACKAGES = ("onnx", "onnxscript")
INSTALL_HINT = 'pip install "latent-atelier[onnx]"'
# The largest batch the exported files are traced for: any batch from 1 up runs,
# the bound only keeps torch.export from specialising on the example's size.
MAX_BATCH = 65536


class OnnxExportError(AtelierError):
    """A model cannot be exported to ONNX, or the file cannot be written."""


@dataclass(frozen=True)
class OnnxExport:
    """What an export wrote."""

    path: Path
    model: str
    kind: str
    step: int | None
    opset: int
    bytes: int


# -- can this installation export? ------------------------------------------------------
def missing_onnx_message() -> str | None:
    """Why this installation cannot export ONNX files, with how to get it; None
    when it can. Cheap: it looks for the packages without importing them."""
    missing = [name for name in EXPORT_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    lacking = " and ".join(missing)
    if getattr(sys, "frozen", False):
        return (f"ONNX export is not part of the packaged app (it leaves out {lacking} and "
                "torch's export compiler to stay small). Install Latent Atelier with pip and "
                f"the ONNX extra ({INSTALL_HINT}), then export there: "
                "latent-atelier-cli export RUN --format onnx --out model.onnx")
    return (f"ONNX export needs the {lacking} package{'s' if len(missing) > 1 else ''}, "
            f"which this installation lacks; install them with: {INSTALL_HINT}")


def onnx_refusal(model_name: object) -> str | None:
    """Why model `model_name` cannot be exported to ONNX; None when it can.
    Read from its spec alone: nothing is loaded."""
    spec = find_model(model_name) if isinstance(model_name, str) else None
    if spec is None:
        return f"{model_name!r} is not a model this app knows, so it cannot be exported"
    reason = spec.onnx_refusal
    return None if reason is None else f"{model_name} cannot be exported to ONNX: {reason}"


# -- exporting ------------------------------------------------------------------------
def export_onnx(source: str | Path, out: str | Path, checkpoint: str | None = None) -> OnnxExport:
    """Export the picture-making network of a run folder (its current weights,
    or those of its kept checkpoint `checkpoint`) or of a model bundle to `out`.

    Refused with one clear line, before anything is loaded, when the model
    cannot be exported or the ONNX packages are missing. `out` is written
    atomically: an existing file there stays whole if anything fails.
    """
    out = _checked_out(out)
    source = Path(source).expanduser()
    bundle = source.is_file()
    name = inspect_bundle(source).model if bundle else RunDir(source).read_config()["model"]
    _check_can_export(name)
    if bundle:
        if checkpoint is not None:
            raise ConfigError(f"{source} is a model bundle: it holds one set of weights, "
                              "no kept checkpoints")
        info, model = load_bundle(source, torch.device("cpu"))
        step: int | None = info.step
        origin = info.source_run or source.name
    else:
        run = RunDir(source)
        name, model = run.load_model(torch.device("cpu"), checkpoint)
        step, origin = _run_step(run, checkpoint), run.path.name
    return write_onnx(model, name, out, {"source_run": origin, "step": step})


def write_onnx(model: GenerativeModel, name: str, out: str | Path,
               provenance: dict[str, Any] | None = None) -> OnnxExport:
    """Export `model` (of model `name`) to `out`; see export_onnx. `provenance`
    (JSON-able: source_run, step, ...) goes into the metadata too."""
    out = _checked_out(out)
    _check_can_export(name)
    network = model.onnx_network()
    program = _exported_program(network, name)
    provenance = dict(provenance or {})
    metadata = contract_metadata(network, name, model.family, provenance)
    if TRUNCATION in model.capabilities:
        metadata["truncation"] = TRUNCATION_NOTE
    program.model.metadata_props.update(metadata)
    program.model.doc_string = describe(network, name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # One file, weights inside: these networks are far below protobuf's 2 GB.
        atomic_write(out, lambda tmp: program.save(str(tmp), external_data=False))
    except OSError as exc:
        raise OnnxExportError(f"cannot write {out}: {exc.strerror or exc}"
                              f"{free_space_note(out.parent, exc)}") from None
    step = provenance.get("step")
    return OnnxExport(out, name, network.kind, step if isinstance(step, int) else None,
                      ONNX_OPSET, out.stat().st_size)


def _check_can_export(name: object) -> None:
    """One clear line when the model cannot be exported or this installation
    lacks the exporter, before anything is loaded or written."""
    problem = onnx_refusal(name) or missing_onnx_message()
    if problem:
        raise OnnxExportError(problem)


def _checked_out(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if out.suffix.lower() != ONNX_SUFFIX:
        raise ConfigError(f"{out}: an ONNX file's name must end with {ONNX_SUFFIX}")
    return out


def _run_step(run: RunDir, checkpoint: str | None) -> int | None:
    """The training step of the weights exported: the run's current one, or
    that of its kept checkpoint `checkpoint`; None if unreadable."""
    try:
        if checkpoint is None:
            return int((read_manifest(run.path) or {}).get("step", 0))
        return int(safe_json.read_json(named_checkpoint(run.path, checkpoint) / TRAINER_JSON)["step"])
    except (AtelierError, OSError, ValueError, KeyError, TypeError):
        return None


def _exported_program(network: OnnxNetwork, name: str) -> Any:
    """The network through torch.onnx's dynamo exporter: a float32 CPU copy in
    eval mode, in the contiguous layout (the app's channels_last weights are a
    speed choice of its own), the batch axis of every input dynamic."""
    module = copy.deepcopy(network.module).float().cpu().eval()
    module.to(memory_format=torch.contiguous_format)
    examples = tuple(x.cpu() for x in network.examples)
    batch = torch.export.Dim(BATCH, min=1, max=MAX_BATCH)
    dynamic = tuple({0: batch} for _ in examples)
    try:
        with _quiet_exporter(), torch.no_grad():
            return torch.onnx.export(
                module, examples, dynamo=True, opset_version=ONNX_OPSET, verbose=False,
                input_names=[i.name for i in network.inputs],
                output_names=[network.output.name], dynamic_shapes=dynamic)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; one line for a person
        text = str(exc).strip().splitlines()
        raise OnnxExportError(f"the ONNX exporter could not convert {name}: "
                              f"{text[0][:300] if text else type(exc).__name__}") from exc


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's progress lines and its notes on optional operator sets
    (torchvision's, absent here) are for its developers, not for a person
    exporting a model."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


# -- the contract in the file ---------------------------------------------------------
def contract_metadata(network: OnnxNetwork, name: str, family: str,
                      provenance: dict[str, Any]) -> dict[str, str]:
    """metadata_props: every value a string (JSON for structures). docs/ONNX.md
    describes each key."""
    image = network.output.shape if network.kind == "generator" else network.inputs[0].shape
    values: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": name, "family": family, "kind": network.kind,
        "inputs": [i.to_dict() for i in network.inputs],
        "outputs": [network.output.to_dict()],
        "image": {"channels": image[1], "height": image[2], "width": image[3],
                  "range": [-1, 1], "to_uint8": TO_UINT8},
        "num_classes": network.num_classes,
        "opset": ONNX_OPSET,
        "exporter": f"torch.onnx (dynamo) {torch.__version__}",
        "app_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **network.contract,
        **{k: v for k, v in provenance.items() if v is not None},
    }
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}


def describe(network: OnnxNetwork, name: str) -> str:
    """The model's doc_string: what it is and how to call it, in two lines."""
    inputs = ", ".join(f"{i.name} {i.dtype}[{', '.join(map(str, i.shape))}]"
                       for i in network.inputs)
    out = network.output
    what = ("one pass: latent to picture" if network.kind == "generator" else
            "one step of an iterative sampler; run the loop in the 'sampler' metadata "
            "(docs/ONNX.md)")
    return (f"Latent Atelier {name} {network.kind} ({what}). Inputs: {inputs}. "
            f"Output: {out.name} {out.dtype}[{', '.join(map(str, out.shape))}], {out.meaning}.")
