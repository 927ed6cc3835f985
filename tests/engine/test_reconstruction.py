"""VAE reconstructions of the user's own pictures: any image file fitted to the
model, encoded, decoded and scored; bad files and non-VAEs refused clearly."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli.main import main
from engine.errors import ConfigError, DataError
from engine.studio.reconstruction import (Reconstructor, fit_pixels, load_picture, reconstruct_files,
                                   reconstruction_unavailable, side_by_side)


def test_pictures_of_any_kind_are_fitted_encoded_decoded_and_scored(vae_run, pictures):
    paths = [pictures["square"], pictures["bar"], pictures["rgba"]]
    result = reconstruct_files(vae_run, paths, device="cpu")
    assert result.originals.shape == result.reconstructions.shape == (3, 28, 28, 1)
    assert result.originals.dtype == result.reconstructions.dtype == np.uint8
    # The original shown is exactly what the model was given.
    np.testing.assert_array_equal(result.originals[0, :, :, 0],
                                  np.asarray(Image.open(pictures["square"])))
    assert all(np.isfinite(v) and v > 0 for v in result.neg_elbo)
    # The same picture always gives the same reconstruction and the same score.
    again = reconstruct_files(vae_run, paths[:1], device="cpu")
    np.testing.assert_array_equal(again.reconstructions[0], result.reconstructions[0])
    assert again.neg_elbo[0] == pytest.approx(result.neg_elbo[0])
    # It is the model's posterior-mean reconstruction, not a sample.
    model = Reconstructor(vae_run, "cpu").model()
    x = torch.from_numpy(result.originals.transpose(0, 3, 1, 2)).float() / 127.5 - 1
    expected = model.reconstruct(x).add(1).mul(127.5).round().clamp(0, 255).byte()
    np.testing.assert_array_equal(result.reconstructions, expected.permute(0, 2, 3, 1).numpy())
    assert side_by_side(result).shape == (6, 28, 28, 1)


def test_pixels_held_by_the_gui_fit_like_a_file(vae_run, pictures):
    from_file = load_picture(pictures["rgba"], 28, 1)
    held = np.asarray(Image.open(pictures["rgba"]))          # (20, 30, 4) RGBA
    np.testing.assert_array_equal(fit_pixels(held, 28, 1), from_file)
    assert fit_pixels(held, 32, 3).shape == (3, 32, 32)
    result = Reconstructor(vae_run, "cpu").arrays([held])
    assert result.reconstructions.shape == (1, 28, 28, 1)
    with pytest.raises(DataError, match="not a picture"):
        fit_pixels(np.zeros((4, 4), np.float32), 28, 1)


@pytest.mark.parametrize("name,reason", [("text", "not a picture Pillow can read"),
                                         ("empty", "empty file"),
                                         ("truncated", "damaged or truncated")])
def test_bad_files_get_one_clear_line_naming_the_file(vae_run, pictures, name, reason):
    with pytest.raises(DataError, match=reason) as caught:
        reconstruct_files(vae_run, [pictures[name]], device="cpu")
    assert str(caught.value).startswith(pictures[name].name) and "\n" not in str(caught.value)


def test_huge_pictures_are_refused_from_the_header(vae_run, pictures, monkeypatch):
    import engine.studio.reconstruction as reconstruction

    monkeypatch.setattr(reconstruction, "MAX_INPUT_PIXELS", 100)
    with pytest.raises(DataError, match="over the limit"):
        reconstruct_files(vae_run, [pictures["rgba"]], device="cpu")


def test_models_that_are_not_vaes_say_why(trained_run, vae_run, pictures):
    assert "needs a VAE" in reconstruction_unavailable(trained_run)
    assert "dcgan" in reconstruction_unavailable(trained_run)
    assert reconstruction_unavailable(vae_run) is None
    with pytest.raises(ConfigError, match="needs a VAE"):
        reconstruct_files(trained_run, [pictures["square"]], device="cpu")


def test_conditional_vaes_need_and_use_a_class(cvae_run, pictures):
    with pytest.raises(ConfigError, match="needs a class"):
        reconstruct_files(cvae_run, [pictures["square"]], device="cpu")
    three = reconstruct_files(cvae_run, [pictures["square"]], labels=[3], device="cpu")
    seven = reconstruct_files(cvae_run, [pictures["square"]], labels=[7], device="cpu")
    assert three.labels == (3,) and seven.labels == (7,)
    assert three.neg_elbo[0] != seven.neg_elbo[0]
    with pytest.raises(ConfigError, match="class labels"):
        reconstruct_files(cvae_run, [pictures["square"]], labels=[10], device="cpu")


def test_cli_sample_reconstruct_writes_originals_beside_reconstructions(vae_run, pictures, tmp_path,
                                                                        capsys):
    out = tmp_path / "r.png"
    argv = ["sample", str(vae_run), "--reconstruct", str(pictures["square"]), str(pictures["bar"]),
            "--out", str(out), "--scale", "2", "--device", "cpu", "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["inputs"] == ["square.png", "bar.jpg"] and len(record["neg_elbo"]) == 2
    expected = reconstruct_files(vae_run, [pictures["square"], pictures["bar"]], device="cpu")
    assert record["neg_elbo"] == pytest.approx(list(expected.neg_elbo))
    with Image.open(out) as grid:
        assert grid.size == (2 * (2 * 30 + 2), 2 * (2 * 30 + 2))   # 2 columns, 2 rows, padding 2
        meta = json.loads(grid.text["latent-atelier"])
        pixels = np.asarray(grid.convert("L"))
    assert meta["kind"] == "reconstruction" and meta["inputs"] == ["square.png", "bar.jpg"]
    np.testing.assert_array_equal(pixels[4:60:2, 64:120:2], expected.reconstructions[0, :, :, 0])


def test_cli_sample_reconstruct_refuses_bad_input_in_one_line(vae_run, trained_run, pictures,
                                                              tmp_path, capsys):
    assert main(["sample", str(vae_run), "--reconstruct", str(pictures["text"]),
                 "--out", str(tmp_path / "r.png"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "notes.png" in err and "not a picture" in err and err.count("\n") == 1
    assert main(["sample", str(trained_run), "--reconstruct", str(pictures["square"]),
                 "--out", str(tmp_path / "r.png"), "--device", "cpu"]) == 1
    assert "needs a VAE" in capsys.readouterr().err
    assert not (tmp_path / "r.png").exists()
