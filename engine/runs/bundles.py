"""Model bundles: a trained model as one self-describing, safe file.

    digits.atelier.safetensors
        tensors    every network's state_dict, keys prefixed by the network's
                   name ("generator.main.0.weight"); a family's EMA weights are
                   one of its networks, so they travel too
        metadata   format marker and version, model name and family, the model
                   config (JSON), a data summary (JSON), the training step, the
                   app version, the network names and the run's thumbnail (PNG,
                   base64)

Opening a bundle checks everything before allocating a tensor: the file's
framing and header (engine.storage.safetensors_file), the metadata, and every tensor's
name, dtype and shape against the model its config describes, built on the meta
device (shapes without memory). Only then are the weights read. Nothing is
ever unpickled; pickle files are refused with a message saying why.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from engine import __version__

from engine.storage import safe_json
from engine.runs.checkpoints import TRAINER_JSON, named_checkpoint, read_manifest, save_tensors
from engine.errors import AtelierError, ConfigError, RunDirError
from engine.runs.finite_weights import first_nonfinite, nonfinite_message
from engine.models import (GenerativeModel, build_model, expected_weights, find_model,
                           model_names)
from engine.models import model_config as make_model_config
from engine.runs.folders import THUMBNAIL_FILE, RunDir, free_space_note
from engine.storage.safetensors_file import mismatch, read_header

BUNDLE_SUFFIX = ".atelier.safetensors"
BUNDLE_FORMAT = "latent-atelier-model-bundle"
BUNDLE_VERSION = 1
MAX_THUMBNAIL_BYTES = 1024 * 1024


class BundleError(AtelierError):
    """A model bundle cannot be written, or is not one this app can open."""


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle says about itself, checked against its tensors."""

    path: Path
    model: str
    family: str
    model_config: dict[str, Any]
    data: dict[str, Any]
    step: int
    app_version: str
    networks: tuple[str, ...]
    thumbnail_png: bytes | None
    source_run: str


# -- writing -------------------------------------------------------------------------
def export_bundle(run_path: str | Path, out: str | Path, checkpoint: str | None = None) -> Path:
    """Write the run's current weights (or those of the kept checkpoint named
    `checkpoint`, e.g. its best by a metric) as one bundle file at `out`."""
    run = RunDir(run_path)
    out = Path(out).expanduser()
    if not out.name.endswith(".safetensors"):
        raise ConfigError(f"{out}: a model bundle's name must end with {BUNDLE_SUFFIX}")
    config = run.read_config()
    name, model = run.load_model(torch.device("cpu"), checkpoint)
    networks = model.networks()
    bad = [n for n in networks if "." in n or not n]
    if bad:  # the first dot separates network from tensor name on import
        raise BundleError(f"network names must not contain '.': {bad}")
    tensors = {f"{net}.{key}": value.detach().contiguous().cpu()
               for net, module in networks.items() for key, value in module.state_dict().items()}
    manifest = read_manifest(run.path) or {}
    metadata = {
        "format": BUNDLE_FORMAT, "format_version": str(BUNDLE_VERSION),
        "model": name, "family": model.family,
        "model_config": json.dumps(model.config.to_dict(), sort_keys=True),
        "data": json.dumps(_shared_data_summary(config.get("data")), sort_keys=True),
        "step": str(_checkpoint_step(run, checkpoint) if checkpoint
                    else int(manifest.get("step", 0))),
        "app_version": __version__, "networks": json.dumps(list(networks)),
        "thumbnail_png": _thumbnail_base64(run.path / THUMBNAIL_FILE),
        "source_run": run.path.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # A full disk comes back from safetensors as the OSError it was.
        save_tensors(out, tensors, metadata)
    except OSError as exc:
        raise BundleError(f"cannot write {out}: {exc.strerror or exc}"
                          f"{free_space_note(out.parent, exc)}") from None
    return out


def _checkpoint_step(run: RunDir, checkpoint: str) -> int:
    folder = named_checkpoint(run.path, checkpoint)
    try:
        return int(safe_json.read_json(folder / TRAINER_JSON)["step"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BundleError(f"{folder / TRAINER_JSON}: unreadable step") from None


def _thumbnail_base64(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return base64.b64encode(data).decode("ascii") if len(data) <= MAX_THUMBNAIL_BYTES else ""


# -- reading -------------------------------------------------------------------------
def inspect_bundle(path: str | Path) -> BundleInfo:
    """Everything about a bundle, fully checked, without loading its weights."""
    path = Path(path).expanduser()
    header = read_header(path)
    meta = header.metadata

    def bad(why: str) -> BundleError:
        return BundleError(f"{path}: {why}")

    if meta.get("format") != BUNDLE_FORMAT:
        raise bad("not a Latent Atelier model bundle (its metadata has no bundle marker); "
                  "export one from a run with `latent-atelier-cli export` or the Runs page")
    try:
        version = int(meta.get("format_version", ""))
        step = int(meta.get("step", "0"))
    except ValueError:
        raise bad("corrupted metadata (format_version or step is not a number)") from None
    if version > BUNDLE_VERSION:
        raise bad(f"written by a newer Latent Atelier (bundle format {version}); please update the app")
    name = meta.get("model", "")
    spec = find_model(name)
    if spec is None:
        raise bad(f"unknown model {name!r}; this app knows {', '.join(model_names())}")
    settings = _json_object(meta, "model_config", bad)
    try:
        config = make_model_config(name, **settings)
    except (AtelierError, TypeError, ValueError) as exc:
        raise bad(f"impossible model config ({exc})") from None
    expected = expected_tensors(name, config)
    problem = mismatch(header.tensors, expected, model="the model its config describes")
    if problem:
        raise bad(problem)
    networks = tuple(dict.fromkeys(key.split(".", 1)[0] for key in expected))
    return BundleInfo(path=path, model=name, family=spec.family.family,
                      model_config=config.to_dict(), data=_json_object(meta, "data", bad),
                      step=step, app_version=meta.get("app_version", "unknown"), networks=networks,
                      thumbnail_png=_thumbnail(meta.get("thumbnail_png", "")),
                      source_run=meta.get("source_run", ""))


def load_bundle(path: str | Path, device: torch.device) -> tuple[BundleInfo, GenerativeModel]:
    """Check the bundle (inspect_bundle), then build its model and load the weights."""
    info = inspect_bundle(path)
    model = build_model(info.model, make_model_config(info.model, **info.model_config), device)
    try:
        tensors = load_file(str(info.path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise BundleError(f"{info.path}: unreadable weights ({exc})") from None
    bad = first_nonfinite(tensors)
    if bad is not None:
        raise BundleError(f"{info.path}: {nonfinite_message(bad)}")
    for net_name, net in model.networks().items():
        prefix = f"{net_name}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state, strict=True)
        except (RuntimeError, ValueError) as exc:
            raise BundleError(f"{info.path}: weights do not fit the {net_name} ({exc})") from None
    return info, model


def _shared_data_summary(data: Any) -> dict[str, Any]:
    """The run's data summary as a shared file may carry it: the skipped-file list
    names paths on the trainer's disk, which a bundle has no business publishing."""
    if not isinstance(data, dict):
        return {}
    summary = {k: v for k, v in data.items() if k != "skipped"}
    if isinstance(data.get("skipped"), dict) and "count" in data["skipped"]:
        summary["skipped_count"] = data["skipped"]["count"]
    return summary


def load_model_from(source: str | Path, device: torch.device) -> tuple[str, GenerativeModel]:
    """The model of a run folder or a bundle file: whatever the user pointed at."""
    source = Path(source).expanduser()
    if source.exists() and not source.is_file() and not source.is_dir():
        raise RunDirError(f"{source}: not a regular file (a FIFO, device or socket), "
                          "neither a run folder nor a model bundle")
    if not source.is_file():
        return RunDir(source).load_model(device)   # a run folder, or a clear "not a run folder"
    info, model = load_bundle(source, device)
    return info.model, model


def expected_tensors(name: str, config: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    """"network.key" -> (safetensors dtype, shape) of the model `config` describes,
    from a copy built on the meta device: shapes only, no memory, no random draws."""
    return {f"{net}.{key}": entry for net, entries in expected_weights(name, config).items()
            for key, entry in entries.items()}


def _json_object(meta: dict[str, str], key: str, bad) -> dict[str, Any]:
    try:
        value = safe_json.loads(meta.get(key, "{}"))
    except safe_json.JsonTooDeepError as exc:
        raise bad(f"corrupted metadata ({key} is {exc})") from None
    except ValueError:
        raise bad(f"corrupted metadata ({key} is not JSON)") from None
    if not isinstance(value, dict):
        raise bad(f"corrupted metadata ({key} is not a JSON object)")
    return value


def _thumbnail(text: str) -> bytes | None:
    if not text or len(text) > 2 * MAX_THUMBNAIL_BYTES:
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(b"\x89PNG\r\n\x1a\n") else None
