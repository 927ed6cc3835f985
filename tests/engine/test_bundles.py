"""Model bundles: one self-describing file out, and nothing unsafe or broken back in."""
from __future__ import annotations

import base64
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.runs.bundles import (BUNDLE_FORMAT, BUNDLE_SUFFIX, BundleError, export_bundle,
                            inspect_bundle, load_bundle, load_model_from)
from engine.errors import AtelierError, ConfigError, RunDirError
from engine.runs.folders import RunDir
from engine.storage.safetensors_file import BadTensorFileError, UnsafeFileError, read_header
from engine.studio.sampling import sample_run

CPU = torch.device("cpu")


class Hostile:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def bundle(trained_run, tmp_path_factory) -> Path:
    return export_bundle(trained_run, tmp_path_factory.mktemp("bundles") / f"tiny{BUNDLE_SUFFIX}")


def _rewrite_header(bundle: Path, out: Path, change) -> Path:
    """A copy of `bundle` whose JSON header went through change(header)."""
    data = bundle.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    change(header)
    raw = json.dumps(header).encode()
    out.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length:])
    return out


def test_export_describes_itself_and_round_trips(bundle, trained_run):
    info = inspect_bundle(bundle)
    assert (info.model, info.family, info.step) == ("dcgan", "gan", 4)
    assert info.model_config["width"] == 8 and info.data["count"] == 64
    assert info.networks == ("generator", "discriminator")
    assert info.thumbnail_png == (trained_run / "thumbnail.png").read_bytes()
    meta = read_header(bundle).metadata
    assert meta["format"] == BUNDLE_FORMAT and meta["app_version"]
    assert base64.b64decode(meta["thumbnail_png"]).startswith(b"\x89PNG")

    _, from_run = RunDir(trained_run).load_model(CPU)
    _, from_bundle = load_bundle(bundle, CPU)
    for name, net in from_run.networks().items():
        theirs = from_bundle.networks()[name].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, theirs[key]), f"{name}.{key}"
    assert (sample_run(bundle, [3, 4], device="cpu") == sample_run(trained_run, [3, 4], device="cpu")).all()


def test_export_refuses_a_name_that_is_not_safetensors(trained_run, tmp_path):
    with pytest.raises(ConfigError, match=BUNDLE_SUFFIX):
        export_bundle(trained_run, tmp_path / "model.pt")


def test_export_of_a_folder_that_is_no_run(tmp_path):
    with pytest.raises(RunDirError, match="not a run folder"):
        export_bundle(tmp_path, tmp_path / f"x{BUNDLE_SUFFIX}")


@pytest.mark.parametrize("cut", [0, 5, 8, 100, -1])
def test_truncated_bundle(bundle, tmp_path, cut):
    data = bundle.read_bytes()
    path = tmp_path / f"cut{BUNDLE_SUFFIX}"
    path.write_bytes(data[:cut] if cut >= 0 else data[:-7])
    with pytest.raises(BadTensorFileError, match="truncated") as info:
        inspect_bundle(path)
    assert str(path) in str(info.value)


def test_oversized_header_length_is_refused_before_reading_it(tmp_path):
    path = tmp_path / f"huge{BUNDLE_SUFFIX}"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(BadTensorFileError, match="more than the .* allowed"):
        inspect_bundle(path)


@pytest.mark.parametrize("garbage", [b"{not json at all", b"[1, 2, 3]   ", b"\xff\xfe\x00\x01"])
def test_corrupted_header(bundle, tmp_path, garbage):
    data = bundle.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    path = tmp_path / f"corrupt{BUNDLE_SUFFIX}"
    path.write_bytes(struct.pack("<Q", len(garbage)) + garbage + data[8 + length:])
    with pytest.raises(BadTensorFileError, match="corrupted header"):
        inspect_bundle(path)


def test_offsets_that_disagree_with_dtype_and_shape(bundle, tmp_path):
    def lie(header):
        header["generator.main.0.weight"]["shape"][0] *= 2   # claims more bytes than it spans
    path = _rewrite_header(bundle, tmp_path / f"lie{BUNDLE_SUFFIX}", lie)
    with pytest.raises(BadTensorFileError, match="spans"):
        inspect_bundle(path)


def test_offsets_past_the_end_of_the_file(bundle, tmp_path):
    def stretch(header):
        entry = max((v for k, v in header.items() if k != "__metadata__"),
                    key=lambda v: v["data_offsets"][1])
        entry["data_offsets"] = [entry["data_offsets"][0] + 4096, entry["data_offsets"][1] + 4096]
    path = _rewrite_header(bundle, tmp_path / f"long{BUNDLE_SUFFIX}", stretch)
    with pytest.raises(BadTensorFileError, match="truncated"):
        inspect_bundle(path)


def test_tensor_shape_disagreeing_with_config(bundle, tmp_path):
    # A consistent safetensors file whose config says width 8 but holds another shape.
    info = inspect_bundle(bundle)
    from safetensors.torch import load_file
    tensors = load_file(str(bundle))
    tensors["generator.main.0.weight"] = torch.zeros(100, 3, 4, 4)
    path = tmp_path / f"shape{BUNDLE_SUFFIX}"
    save_file(tensors, str(path), metadata=read_header(bundle).metadata)
    with pytest.raises(BundleError, match=r"generator.main.0.weight.*needs F32") as err:
        inspect_bundle(path)
    assert info.model_config["width"] == 8 and str(path) in str(err.value)


def test_config_that_disagrees_with_the_tensors(bundle, tmp_path):
    def widen(header):
        config = json.loads(header["__metadata__"]["model_config"])
        header["__metadata__"]["model_config"] = json.dumps({**config, "width": 16})
    path = _rewrite_header(bundle, tmp_path / f"wide{BUNDLE_SUFFIX}", widen)
    with pytest.raises(BundleError, match="the model its config describes needs"):
        load_bundle(path, CPU)


@pytest.mark.parametrize("change,message", [
    (lambda m: m.pop("format"), "not a Latent Atelier model bundle"),
    (lambda m: m.update(format_version="7"), "newer Latent Atelier"),
    (lambda m: m.update(model="stylegan"), "unknown model"),
    (lambda m: m.update(model_config="{oops"), "model_config is not JSON"),
    (lambda m: m.update(model_config='{"width": 2}'), "impossible model config"),
])
def test_bad_metadata(bundle, tmp_path, change, message):
    path = _rewrite_header(bundle, tmp_path / f"meta{BUNDLE_SUFFIX}",
                           lambda header: change(header["__metadata__"]))
    with pytest.raises(BundleError, match=message):
        inspect_bundle(path)


def test_a_plain_weights_file_is_not_a_bundle(trained_run):
    with pytest.raises(BundleError, match="not a Latent Atelier model bundle"):
        inspect_bundle(RunDir(trained_run).weights_path("generator"))


# -- hostile pickles: refused on every path, never executed ----------------------------
def test_the_hostile_payload_really_runs_code_when_unpickled(tmp_path):
    # The control for the tests below: unpickling this payload does create the marker.
    marker = tmp_path / "RAN"
    pickle.loads(pickle.dumps(Hostile(marker)))  # the test's own object, never a user file
    assert marker.exists()


def _hostile_files(tmp_path: Path, marker: Path) -> list[Path]:
    payload = pickle.dumps(Hostile(marker))
    raw = tmp_path / "model.ckpt"
    raw.write_bytes(payload)
    zipped = tmp_path / "model.pt"
    torch.save({"state_dict": Hostile(marker)}, zipped)   # torch.save's zip archive
    disguised = tmp_path / f"disguised{BUNDLE_SUFFIX}"     # a pickle with a safe-looking name
    disguised.write_bytes(payload)
    assert not marker.exists()
    return [raw, zipped, disguised]


def test_hostile_pickle_is_never_executed_by_bundle_import_or_sampling(tmp_path):
    marker = tmp_path / "PWNED"
    for path in _hostile_files(tmp_path, marker):
        for load in (inspect_bundle, lambda p: load_bundle(p, CPU),
                     lambda p: load_model_from(p, CPU), lambda p: sample_run(p, [0], device="cpu")):
            with pytest.raises(UnsafeFileError, match="can run code") as info:
                load(path)
            assert str(path) in str(info.value)
    assert not marker.exists()


def test_hostile_pickle_in_a_run_folder_is_never_executed(run_copy, tmp_path):
    marker = tmp_path / "PWNED"
    files = _hostile_files(tmp_path, marker)
    target = RunDir(run_copy).weights_path("generator")
    for hostile in files:
        target.write_bytes(hostile.read_bytes())
        with pytest.raises(UnsafeFileError, match="can run code"):
            RunDir(run_copy).load_model(CPU)
    assert not marker.exists()


def test_cli_export_then_sample_from_the_bundle(trained_run, tmp_path, capsys):
    from engine.cli.main import main

    out = tmp_path / f"shared{BUNDLE_SUFFIX}"
    assert main(["export", str(trained_run), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["file"] == str(out) and result["model"] == "dcgan" and result["step"] == 4
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_cli_refuses_a_pickle_in_one_line(tmp_path, capsys):
    from engine.cli.main import main

    marker = tmp_path / "PWNED"
    raw = _hostile_files(tmp_path, marker)[0]
    assert main(["sample", str(raw), "--out", str(tmp_path / "g.png")]) == 1
    err = capsys.readouterr().err
    assert "can run code" in err and err.count("\n") == 1
    assert not marker.exists()


def test_animate_from_a_bundle(bundle, tmp_path, capsys):
    from engine.cli.main import main

    # A latent walk needs only the model, so a bundle will do ...
    out = tmp_path / "walk.gif"
    assert main(["animate", str(bundle), "--kind", "interpolate", "--seeds", "1,2",
                 "--frames-between", "3", "--device", "cpu", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] >= 4 and out.stat().st_size > 0
    # ... but the time-lapse is the run's history, which a bundle does not carry.
    assert main(["animate", str(bundle), "--out", str(tmp_path / "t.gif")]) == 1
    assert "needs the run folder" in capsys.readouterr().err


def test_every_error_is_an_atelier_error():
    assert issubclass(BundleError, AtelierError) and issubclass(UnsafeFileError, AtelierError)
    assert issubclass(BadTensorFileError, AtelierError)


def test_run_weights_with_a_shape_the_config_disagrees_with(run_copy):
    from safetensors.torch import load_file
    path = RunDir(run_copy).weights_path("generator")
    tensors = load_file(str(path))
    tensors["main.0.weight"] = torch.zeros(100, 3, 4, 4)
    save_file(tensors, str(path))
    with pytest.raises(RunDirError, match=r"main.0.weight.*the model needs F32") as info:
        RunDir(run_copy).load_model(CPU)
    assert str(path) in str(info.value)


def test_safetensors_whose_length_bytes_look_like_a_pickle_opcode_still_opens(tmp_path):
    # A 640-byte header's length starts with 0x80 0x02, a pickle's PROTO 2 opcode.
    value = torch.arange(4, dtype=torch.float32)
    header = {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    raw = json.dumps(header).encode().ljust(640)
    path = tmp_path / "named-like-a-pickle.pt"
    path.write_bytes(struct.pack("<Q", 640) + raw + value.numpy().tobytes())
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert read_header(path).tensors["x"].shape == (4,)


def test_a_bundle_does_not_publish_the_paths_of_skipped_files(run_copy, tmp_path):
    config = json.loads((run_copy / "config.json").read_text())
    config["data"]["skipped"] = {"count": 2, "found": 66,
                                 "first": [["/home/someone/private/a.png", "damaged"]]}
    (run_copy / "config.json").write_text(json.dumps(config))
    out = export_bundle(run_copy, tmp_path / f"b{BUNDLE_SUFFIX}")
    meta = read_header(out).metadata
    assert "/home/someone" not in meta["data"]
    assert json.loads(meta["data"])["skipped_count"] == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_given_as_a_model_is_called_what_it_is(tmp_path):
    fifo = tmp_path / f"model{BUNDLE_SUFFIX}"
    os.mkfifo(fifo)
    with pytest.raises(RunDirError, match="not a regular file"):
        load_model_from(fifo, CPU)
