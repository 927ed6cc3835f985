"""Shared fixtures for the engine and CLI tests.

Everything here is tiny on purpose: a 64-image synthetic MNIST-format data set,
dcgan at width 8, batch 8, a handful of steps. The whole engine suite must stay
well under a minute on a 2-core CPU.
"""
from __future__ import annotations

import dataclasses
import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

N_TRAIN = 64
N_TEST = 16
SIDE = 28


# -- IDX writing --------------------------------------------------------------------
def idx_bytes(array: np.ndarray, dtype_byte: int = 0x08) -> bytes:
    """The IDX encoding of a uint8 array: magic 0 0 TYPE NDIM, big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, dtype_byte, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, dtype_byte: int = 0x08) -> Path:
    """Write `array` as IDX; gzipped when the name ends with .gz."""
    data = idx_bytes(array, dtype_byte)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def pattern_images(n: int, seed: int = 0, side: int = SIDE) -> np.ndarray:
    """Easy synthetic 'digits': a bright 8x8 square at a random place on black."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, side, side), dtype=np.uint8)
    for i in range(n):
        y, x = rng.integers(0, side - 8, size=2)
        images[i, y:y + 8, x:x + 8] = 255
    return images


def write_mnist_folder(folder: Path, n_train: int = N_TRAIN, n_test: int = N_TEST,
                       gz: bool = True) -> Path:
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(1)
    write_idx(folder / f"train-images-idx3-ubyte{ext}", pattern_images(n_train, seed=2))
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_train, dtype=np.uint8))
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", pattern_images(n_test, seed=3))
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_test, dtype=np.uint8))
    return folder


# -- environment --------------------------------------------------------------------
@pytest.fixture(autouse=True)
def atelier_home(tmp_path, monkeypatch) -> Path:
    """Keep every test away from the real user data folder."""
    home = tmp_path / "atelier-home"
    monkeypatch.setenv("LATENT_ATELIER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def idx_folder(tmp_path_factory) -> Path:
    """A read-only-by-convention MNIST-format folder (gzipped) with 64 train / 16 test images."""
    return write_mnist_folder(tmp_path_factory.mktemp("idx-data"))


@pytest.fixture(scope="session")
def data_spec(idx_folder) -> str:
    return f"idx:{idx_folder}"


@pytest.fixture
def tiny_config(data_spec):
    """Factory: a TrainConfig for a tiny CPU run (dcgan width 8, batch 8, 3 steps)."""
    from engine.training import TrainConfig

    def make(**overrides):
        values = dict(model="dcgan", data=data_spec, image_size=28, width=8, batch_size=8,
                      steps=3, device="cpu", seed=0, report_seconds=0.0)
        values.update(overrides)
        return TrainConfig(**values)

    return make


def run_training(config, out, control=None) -> list:
    from engine.training import train
    return list(train(config, out, control))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_spec) -> Path:
    """One tiny finished dcgan run, shared read-only (copy it before changing it).

    4 steps with a sample grid every step: samples/step_000000..000004.png.
    """
    from engine.training import TrainConfig

    out = tmp_path_factory.mktemp("runs") / "tiny-run"
    config = TrainConfig(model="dcgan", data=data_spec, image_size=28, width=8, batch_size=8,
                         steps=4, sample_every=1, device="cpu", seed=0, report_seconds=0.0)
    events = run_training(config, out)
    assert type(events[-1]).__name__ == "Finished"
    return out


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A private copy of the shared run that a test may change or break."""
    return Path(shutil.copytree(trained_run, tmp_path / "run-copy"))


def load_tensors(path: Path) -> dict:
    return load_file(str(path))


# -- helpers as fixtures (test modules cannot import conftest by name safely) ---------
class Helpers:
    idx_bytes = staticmethod(idx_bytes)
    write_idx = staticmethod(write_idx)
    pattern_images = staticmethod(pattern_images)
    write_mnist_folder = staticmethod(write_mnist_folder)
    run_training = staticmethod(run_training)
    load_tensors = staticmethod(load_tensors)

    @staticmethod
    def event_types(events) -> list[str]:
        return [type(e).__name__ for e in events]

    @staticmethod
    def of_type(events, name: str) -> list:
        return [e for e in events if type(e).__name__ == name]

    @staticmethod
    def fields(event) -> dict:
        return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers


# -- VAE runs and pictures for reconstructions and morphs ---------------------------------
def write_pictures(folder: Path) -> dict[str, Path]:
    """Small picture files of the kinds users drop: grey PNG, colour JPEG, RGBA PNG
    of another size, plus a text file, an empty file and a truncated PNG."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    square = np.zeros((28, 28), np.uint8)
    square[6:18, 8:20] = 255
    bar = np.zeros((40, 40, 3), np.uint8)
    bar[4:36, 16:24] = (220, 200, 180)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (255, 255, 255, 255)
    paths = {"square": folder / "square.png", "bar": folder / "bar.jpg", "rgba": folder / "rgba.png",
             "text": folder / "notes.png", "empty": folder / "empty.png",
             "truncated": folder / "truncated.png"}
    Image.fromarray(square).save(paths["square"])
    Image.fromarray(bar).save(paths["bar"], quality=95)
    Image.fromarray(rgba, "RGBA").save(paths["rgba"])
    paths["text"].write_text("not a picture at all")
    paths["empty"].write_bytes(b"")
    paths["truncated"].write_bytes(paths["square"].read_bytes()[:60])
    return paths


def _tiny_vae_run(tmp_path_factory, data_spec, model: str) -> Path:
    from engine.training import TrainConfig

    out = tmp_path_factory.mktemp(f"{model}-runs") / f"tiny-{model}"
    run_training(TrainConfig(model=model, data=data_spec, batch_size=8, steps=2,
                             sample_every=1000, device="cpu", report_seconds=0.0), out)
    return out


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory, data_spec) -> Path:
    """A tiny finished mlp-vae run (2 steps), shared read-only."""
    return _tiny_vae_run(tmp_path_factory, data_spec, "mlp-vae")


@pytest.fixture(scope="session")
def cvae_run(tmp_path_factory, data_spec) -> Path:
    """A tiny finished conditional VAE run (10 classes), shared read-only."""
    return _tiny_vae_run(tmp_path_factory, data_spec, "cvae")


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> dict[str, Path]:
    return write_pictures(tmp_path_factory.mktemp("pictures"))


# -- diffusion and flow runs (models with an iterative sampler) ---------------------------
# Tiny: width 8, two levels, one block, 4 sampler steps, 3 training steps.
DENOISER_SETTINGS = {"depth": 2, "blocks": 1, "sample_steps": 4}


def _denoiser_names() -> list[str]:
    from engine.models import model_specs
    from engine.models.base import STEPS
    return [s.name for s in model_specs() if STEPS in s.capabilities]


def tiny_denoiser_run(out: Path, data_spec: str, model: str, **settings) -> Path:
    from engine.training import TrainConfig

    run_training(TrainConfig(model=model, data=data_spec, image_size=28, width=8, batch_size=8,
                             steps=3, sample_every=1000, device="cpu", report_seconds=0.0,
                             model_settings={**DENOISER_SETTINGS, **settings}), out)
    return out


@pytest.fixture(scope="session")
def _denoiser_runs(tmp_path_factory, data_spec):
    """model name -> its tiny run, trained on first use."""
    runs: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in runs:
            out = tmp_path_factory.mktemp(f"{name}-runs") / f"tiny-{name}"
            runs[name] = tiny_denoiser_run(out, data_spec, name)
        return runs[name]

    return get


@pytest.fixture(scope="session", params=_denoiser_names())
def denoiser_run(request, _denoiser_runs) -> Path:
    """A tiny finished class-conditional run of each model with an iterative
    sampler (the data has labels), shared read-only."""
    return _denoiser_runs(request.param)


@pytest.fixture(scope="session")
def first_denoiser_run(_denoiser_runs) -> Path:
    """The first such model's run only, for checks of the studio's plumbing that
    do not depend on the family."""
    return _denoiser_runs(_denoiser_names()[0])
