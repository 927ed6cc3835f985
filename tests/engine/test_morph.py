"""Reconstruction morphs: pictures encoded to posterior means and walked between
through the walk's timeline settings and exporters, with provenance."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.errors import ConfigError, DataError
from engine.studio.exporters.provenance import read_provenance, read_timeline
from engine.studio.morph import morph_frames, morph_timeline
from engine.studio.reconstruction import reconstruct_files


def test_a_morph_passes_through_each_pictures_reconstruction(vae_run, pictures):
    paths = [pictures["square"], pictures["bar"], pictures["rgba"]]
    frames, info = morph_frames(vae_run, paths, device="cpu", frames_between=4)
    assert frames.shape == (2 * 5 + 1, 28, 28, 1) and frames.dtype == np.uint8
    recon = reconstruct_files(vae_run, paths, device="cpu").reconstructions
    for k, position in enumerate(morph_timeline(3, frames_between=4).keyframe_positions()):
        np.testing.assert_array_equal(frames[position], recon[k])
    # Frames between are new images, changing step by step.
    assert not np.array_equal(frames[2], frames[0]) and not np.array_equal(frames[2], frames[5])
    assert info["kind"] == "morph" and info["inputs"] == ["square.png", "bar.jpg", "rgba.png"]
    assert info["morph"] == {"frames_between": 4, "ease": "in-out", "loop": False,
                             "interpolation": "lerp"}
    assert info["model"] == "mlp-vae" and info["step"] == 2 and len(info["input_sha256"]) == 3


def test_a_looping_morph_has_no_jump(vae_run, pictures):
    frames, _ = morph_frames(vae_run, [pictures["square"], pictures["bar"]], device="cpu",
                             frames_between=6, loop=True, ease="linear")
    assert len(frames) == 14
    steps = [np.abs(frames[i].astype(int) - frames[(i + 1) % len(frames)]).mean()
             for i in range(len(frames))]
    assert steps[-1] <= max(steps[:-1]) + 1e-9


def test_morph_refuses_bad_requests(vae_run, trained_run, pictures):
    with pytest.raises(ConfigError, match="two or more pictures"):
        morph_frames(vae_run, [pictures["square"]], device="cpu")
    with pytest.raises(DataError, match="notes.png"):
        morph_frames(vae_run, [pictures["square"], pictures["text"]], device="cpu")
    with pytest.raises(ConfigError, match="needs a VAE"):
        morph_frames(trained_run, [pictures["square"], pictures["bar"]], device="cpu")


def test_a_conditional_morph_blends_the_pictures_classes(cvae_run, pictures):
    paths = [pictures["square"], pictures["bar"]]
    with pytest.raises(ConfigError, match="needs a class"):
        morph_frames(cvae_run, paths, device="cpu")
    frames, info = morph_frames(cvae_run, paths, labels=[1, 8], device="cpu", frames_between=2)
    assert info["labels"] == [1, 8] and len(frames) == 4
    np.testing.assert_array_equal(
        frames[3], reconstruct_files(cvae_run, paths[1:], labels=[8], device="cpu").reconstructions[0])


def test_cli_animate_kind_morph_exports_with_provenance(vae_run, pictures, tmp_path, capsys):
    out = tmp_path / "m.gif"
    argv = ["animate", str(vae_run), "--kind", "morph",
            "--input", f"{pictures['square']},{pictures['bar']},{pictures['rgba']}",
            "--frames-between", "3", "--loop", "--out", str(out), "--device", "cpu", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["frames"] == 12 and record["inputs"] == ["square.png", "bar.jpg", "rgba.png"]
    with Image.open(out) as gif:
        assert gif.n_frames == 12 and gif.size == (56, 56) and gif.info.get("loop") == 0
    info = read_provenance(out)
    assert info["kind"] == "morph" and info["morph"]["loop"] is True and info["format"] == "gif"
    with pytest.raises(DataError, match="reconstruction morph"):
        read_timeline(out)


def test_cli_animate_kind_morph_needs_pictures(vae_run, pictures, tmp_path, capsys):
    assert main(["animate", str(vae_run), "--kind", "morph", "--out", str(tmp_path / "m.gif")]) == 1
    assert "needs --input" in capsys.readouterr().err
    assert main(["animate", str(vae_run), "--kind", "morph", "--seeds", "1,2",
                 "--out", str(tmp_path / "m.gif")]) == 1
    assert "not --seeds" in capsys.readouterr().err


def test_process_exports_name_their_seed_instead_of_inventing_a_walk(tmp_path):
    from engine.studio.exporters import ExportOptions, export_animation

    frames = np.zeros((3, 4, 4, 1), np.uint8)
    out = export_animation(frames, tmp_path / "p.gif", "gif", ExportOptions(),
                           {"kind": "process", "process": "drawing", "seeds": [9]})
    with pytest.raises(DataError, match="--kind process --seed 9"):
        read_timeline(out)


def test_a_bundle_reconstructs_and_morphs_like_its_run(vae_run, pictures, tmp_path):
    from engine.runs.bundles import export_bundle

    bundle = export_bundle(vae_run, tmp_path / "vae.atelier.safetensors")
    paths = [pictures["square"], pictures["bar"]]
    np.testing.assert_array_equal(reconstruct_files(bundle, paths, device="cpu").reconstructions,
                                  reconstruct_files(vae_run, paths, device="cpu").reconstructions)
    frames, info = morph_frames(bundle, paths, device="cpu", frames_between=2)
    np.testing.assert_array_equal(frames, morph_frames(vae_run, paths, device="cpu",
                                                       frames_between=2)[0])
    assert info["step"] == 2
