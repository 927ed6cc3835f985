"""What users saved with version 0.1.0 still opens, samples, exports and resumes
bit for bit (tests/fixtures/saved_v0_1_0 says how the fixtures were made)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from engine.runs.checkpoints import current_checkpoint
from engine.cli.main import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saved_v0_1_0"
MODELS = ["dcgan", "conv-vae", "row-lstm"]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def weights_digest(path: Path) -> str:
    tensors = load_file(str(path))
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture
def saved_run(tmp_path):
    def copy(model: str) -> Path:
        return Path(shutil.copytree(FIXTURES / f"{model}-run", tmp_path / f"{model}-run"))
    return copy


@pytest.mark.parametrize("model", MODELS)
def test_an_old_run_samples_the_same_pictures(model, saved_run, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", str(saved_run(model)), "--n", "4", "--seed", "10", "--out", str(out)]) == 0
    assert np.array_equal(pixels(out), pixels(FIXTURES / f"expected-{model}-run-seeds-10-13.png"))


@pytest.mark.parametrize("model", MODELS)
def test_an_old_bundle_samples_the_same_pictures(model, tmp_path):
    out = tmp_path / "grid.png"
    bundle = FIXTURES / f"{model}.atelier.safetensors"
    assert main(["sample", str(bundle), "--n", "4", "--seed", "10", "--out", str(out)]) == 0
    assert np.array_equal(pixels(out), pixels(FIXTURES / f"expected-{model}-bundle-seeds-10-13.png"))


@pytest.mark.parametrize("model", MODELS)
def test_an_old_run_exports_a_bundle_that_samples_the_same(model, saved_run, tmp_path):
    bundle, out = tmp_path / "again.atelier.safetensors", tmp_path / "grid.png"
    assert main(["export", str(saved_run(model)), "--out", str(bundle)]) == 0
    assert main(["sample", str(bundle), "--n", "4", "--seed", "10", "--out", str(out)]) == 0
    assert np.array_equal(pixels(out), pixels(FIXTURES / f"expected-{model}-bundle-seeds-10-13.png"))


@pytest.mark.parametrize("model", MODELS)
def test_an_old_run_resumes_bit_for_bit(model, saved_run):
    expected = json.loads((FIXTURES / "expected-resume.json").read_text())[model]
    run = saved_run(model)
    # The fixtures were made on a 2-core machine, where torch used 2 threads; the
    # bits of a convolution's gradients depend on how many threads sum them.
    assert main(["train", "--resume", str(run), "--steps", str(expected["resumed_to_step"]),
                 "--threads", "2"]) == 0
    folder = current_checkpoint(run)
    assert folder.name.startswith(f"step_{expected['resumed_to_step']:09d}-")
    got = {name: weights_digest(folder / f"{name}.safetensors") for name in expected["weights_sha256"]}
    assert got == expected["weights_sha256"]
