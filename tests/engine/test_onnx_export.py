"""ONNX export: every family that declares it exports a file whose pictures match
the app's (through onnxruntime and the reference sampler of docs/ONNX.md), the
others are refused with their reason, and a missing onnx package is explained."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli.main import main
from engine.errors import ConfigError
from engine.media.images import to_uint8
from engine.models import build_model, model_config, model_names, model_spec
from engine.models.base import ONNX, STEPS, GenerativeModel
from engine.studio import onnx_export
from engine.studio.onnx_export import (INSTALL_HINT, ONNX_OPSET, OnnxExportError, export_onnx,
                                       missing_onnx_message, write_onnx)

DOC = Path(__file__).resolve().parents[2] / "docs" / "ONNX.md"
# docs/ONNX.md states these: generators within 1 level of 255, denoisers within 2.
GENERATOR_TOLERANCE = 1
DENOISER_TOLERANCE = 2

# The smallest setting of each exported family, and one with classes where it has them.
TINY = {
    "cgan": {"width": 8, "latent_dim": 8, "num_classes": 10, "ema_decay": 0.9},
    "fastgan": {"width": 4, "latent_dim": 8, "image_size": 32},
    "conv-cvae": {"width": 8, "latent_dim": 4, "num_classes": 10},
    "draw": {"width": 16, "latent_dim": 4, "steps": 3},
    "ddpm": {"width": 8, "depth": 2, "blocks": 1, "num_classes": 10, "guidance": 2.0},
    "flow": {"width": 8, "depth": 2, "blocks": 1, "sampler": "heun"},
}
# The rest, at their smallest, on demand (-m slow).
MORE = {
    "mlp-gan": {"latent_dim": 8},
    "dcgan": {"width": 8, "latent_dim": 8, "channels": 3, "image_size": 32},
    "mlp-vae": {"hidden": 32, "latent_dim": 4, "channels": 3},
    "ddpm-epsilon": {"width": 8, "depth": 2, "blocks": 1, "prediction": "epsilon"},
}
SAMPLER_STEPS = 3


def reference_sampler() -> dict:
    """The reference sampler, run from the code block that docs/ONNX.md shows."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- onnx-reference-sampler -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/ONNX.md lost its reference sampler block"
    namespace: dict = {"__name__": "onnx_reference_sampler"}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)   # noqa: S102 - our own docs
    return namespace


def tiny_model(key: str, settings: dict) -> tuple[str, GenerativeModel]:
    name = "ddpm" if key == "ddpm-epsilon" else key
    return name, build_model(name, model_config(name, **settings), torch.device("cpu"), seed=3)


def largest_pixel_difference(path: Path, model: GenerativeModel, seeds: list[int]) -> int:
    """The app's pictures for `seeds` against the reference sampler's from the same
    latents (and classes), in levels of 255."""
    sampler = reference_sampler()
    with torch.inference_mode():
        app = to_uint8(model.sample(seeds)).astype(int)
        latents = model.latents_for_seeds(seeds).numpy()
    labels = model.labels_for_seeds(seeds)
    steps = model.sampling.steps if STEPS in model.capabilities else None
    theirs = sampler["sample"](str(path), latents, None if labels is None else labels.numpy(),
                               steps=steps)
    assert theirs.shape == app.shape and theirs.dtype == np.uint8
    return int(np.abs(theirs.astype(int) - app).max())


def export_tiny(key: str, settings: dict, folder: Path) -> tuple[GenerativeModel, Path]:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    name, model = tiny_model(key, settings)
    if STEPS in model.capabilities:
        model.configure_sampling(steps=SAMPLER_STEPS)
    result = write_onnx(model, name, folder / f"{key}.onnx", {"source_run": "digits", "step": 12})
    assert result.path.is_file() and result.opset == ONNX_OPSET and result.model == name
    return model, result.path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """key -> (model, its ONNX file), each exported once for the module's tests."""
    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[str, tuple[GenerativeModel, Path]] = {}

    def get(key: str) -> tuple[GenerativeModel, Path]:
        if key not in cache:
            cache[key] = export_tiny(key, TINY[key], folder)
        return cache[key]
    return get


def check_parity(model: GenerativeModel, path: Path) -> None:
    tolerance = DENOISER_TOLERANCE if STEPS in model.capabilities else GENERATOR_TOLERANCE
    # 7 pictures (padded to 8 inside the app's denoisers), then one alone: any batch runs.
    assert largest_pixel_difference(path, model, list(range(7))) <= tolerance
    assert largest_pixel_difference(path, model, [11]) <= tolerance


# -- export and parity, family by family ------------------------------------------------
@pytest.mark.parametrize("key", list(TINY))
def test_onnxruntime_gives_the_apps_pictures(key, exported):
    check_parity(*exported(key))


@pytest.mark.slow
@pytest.mark.parametrize("key", list(MORE))
def test_onnxruntime_gives_the_apps_pictures_for_more_settings(key, tmp_path):
    check_parity(*export_tiny(key, MORE[key], tmp_path))


def test_the_file_carries_its_contract(exported):
    onnx = pytest.importorskip("onnx")
    _, path = exported("ddpm")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["format"] == "latent-atelier-onnx" and meta["kind"] == "denoiser"
    assert meta["model"] == "ddpm" and meta["num_classes"] == "10" and meta["null_class"] == "10"
    assert meta["source_run"] == "digits" and meta["step"] == "12"
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    inputs = json.loads(meta["inputs"])
    assert [i["name"] for i in inputs] == ["x", "t", "label"]
    assert [i["dtype"] for i in inputs] == ["float32", "float32", "int64"]
    sampler = json.loads(meta["sampler"])
    assert sampler["process"] == "ddim" and sampler["steps"] == 20 and sampler["guidance"] == 2.0
    # The graph's own inputs agree, with the batch axis dynamic.
    graph = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
             for i in proto.graph.input}
    assert graph == {"x": ["batch", 1, 28, 28], "t": ["batch"], "label": ["batch"]}
    assert "Latent Atelier ddpm denoiser" in proto.doc_string


# -- what is refused, and why ---------------------------------------------------------------
def test_every_family_declares_onnx_or_a_reason():
    for name in model_names():
        spec = model_spec(name)
        family = spec.family
        overrides = family.onnx_network is not GenerativeModel.onnx_network
        assert (ONNX in spec.capabilities) == overrides == spec.exports_onnx, name
        assert (spec.onnx_refusal is None) == spec.exports_onnx, name


@pytest.mark.parametrize("name, settings, why", [
    ("row-lstm", {"width": 4, "layers": 1}, "draws each pixel at random"),
    ("convlstm", {}, "continues image sequences"),
])
def test_families_without_onnx_are_refused_with_their_reason(name, settings, why, tmp_path):
    model = build_model(name, model_config(name, **settings), torch.device("cpu"))
    out = tmp_path / "m.onnx"
    out.write_bytes(b"kept")
    with pytest.raises(OnnxExportError, match=f"{name} cannot be exported to ONNX: it {why}"):
        write_onnx(model, name, out)
    assert out.read_bytes() == b"kept"


def test_an_onnx_name_is_required(tmp_path):
    _, model = tiny_model("cgan", TINY["cgan"])
    with pytest.raises(ConfigError, match=r"must end with \.onnx"):
        write_onnx(model, "cgan", tmp_path / "model.safetensors")


def test_a_failing_exporter_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    pytest.importorskip("onnxscript")

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator\n  a long trace")

    monkeypatch.setattr(torch.onnx, "export", broken)
    _, model = tiny_model("cgan", TINY["cgan"])
    out = tmp_path / "m.onnx"
    out.write_bytes(b"kept")
    with pytest.raises(OnnxExportError, match=r"could not convert cgan: unsupported operator$"):
        write_onnx(model, "cgan", out)
    assert out.read_bytes() == b"kept"


# -- without the onnx packages -----------------------------------------------------------------
@pytest.fixture
def without_onnx(monkeypatch):
    real = onnx_export.importlib.util.find_spec
    monkeypatch.setattr(onnx_export.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxscript") else real(name, *a))


def test_a_missing_onnx_package_says_how_to_get_it(without_onnx, monkeypatch, tmp_path):
    message = missing_onnx_message()
    assert "needs the onnx and onnxscript packages" in message and INSTALL_HINT in message
    _, model = tiny_model("cgan", TINY["cgan"])
    with pytest.raises(OnnxExportError, match=re.escape(INSTALL_HINT)):
        write_onnx(model, "cgan", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert "not part of the packaged app" in missing_onnx_message()


def test_the_cli_explains_a_missing_onnx_package(without_onnx, trained_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ONNX export needs") and INSTALL_HINT in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_missing_onnx_is_reported_when_the_packages_are_there():
    pytest.importorskip("onnxscript")
    assert missing_onnx_message() is None


# -- from a run, a checkpoint and a bundle -------------------------------------------------------
def test_cli_exports_a_run_and_the_name_picks_the_format(trained_run, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    out = tmp_path / "digits.onnx"
    assert main(["export", str(trained_run), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "onnx" and result["kind"] == "generator"
    assert result["model"] == "dcgan" and result["opset"] == ONNX_OPSET
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["source_run"] == trained_run.name and int(meta["step"]) == result["step"] > 0
    # --format onnx with a bundle's name is refused, not written under that name.
    wrong = tmp_path / "digits.atelier.safetensors"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(wrong)]) == 1
    assert "must end with .onnx" in capsys.readouterr().err and not wrong.exists()


def test_a_bundle_exports_too_but_has_no_checkpoints(trained_run, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    bundle = tmp_path / "digits.atelier.safetensors"
    assert main(["export", str(trained_run), "--out", str(bundle)]) == 0
    result = export_onnx(bundle, tmp_path / "from-bundle.onnx")
    assert result.model == "dcgan" and result.step is not None
    with pytest.raises(ConfigError, match="no kept checkpoints"):
        export_onnx(bundle, tmp_path / "again.onnx", checkpoint="step-000001")
