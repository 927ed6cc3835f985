"""The CLI with models that sample step by step (diffusion, flow):
--sampler-steps and --guidance on sample and animate, variations of a picture
(sample --from-image --strength), morphs by inversion, bundles, train and
train --resume, and one clear line for every bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import EXIT_USAGE, main
from engine.studio.exporters.provenance import read_provenance

from tests.engine.test_training_resume import assert_same_weights


def _record(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err   # one line, never a traceback
    return err


def test_sample_with_sampler_steps_and_guidance(first_denoiser_run, tmp_path, capsys):
    argv = ["sample", str(first_denoiser_run), "--n", "4", "--sampler-steps", "3", "--guidance",
            "1.5", "--device", "cpu", "--json"]
    assert main([*argv, "--out", str(tmp_path / "a.png")]) == 0
    record = _record(capsys)
    assert record["sampler_steps"] == 3 and record["guidance"] == 1.5
    assert main([*argv, "--out", str(tmp_path / "b.png")]) == 0
    capsys.readouterr()
    a, b = (np.asarray(Image.open(tmp_path / name)) for name in ("a.png", "b.png"))
    np.testing.assert_array_equal(a, b)   # same seeds, steps and guidance: same pictures
    info = read_provenance(tmp_path / "a.png")
    assert info["sampler_steps"] == 3 and info["guidance"] == 1.5 and info["seeds"] == [0, 1, 2, 3]
    # Without the flags the run's own defaults are used, and recorded.
    assert main(["sample", str(first_denoiser_run), "--n", "2", "--device", "cpu", "--json",
                 "--out", str(tmp_path / "c.png")]) == 0
    assert _record(capsys)["sampler_steps"] == 4


def test_variations_from_a_picture(denoiser_run, pictures, tmp_path, capsys):
    out = tmp_path / "vars"
    assert main(["sample", str(denoiser_run), "--from-image", str(pictures["bar"]), "--strength",
                 "0.5", "--n", "3", "--seed", "10", "--sampler-steps", "4", "--device", "cpu",
                 "--out", f"{out}/", "--json"]) == 0
    record = _record(capsys)
    assert record["strength"] == 0.5 and record["seeds"] == [10, 11, 12]
    assert len(record["files"]) == 3
    info = read_provenance(out / "seed_000011.png")
    assert info["kind"] == "variation" and info["seed"] == 11 and info["strength"] == 0.5
    assert info["input"] == "bar.jpg" and info["sampler_steps"] == 4 and "guidance" in info
    assert len(info["input_sha256"]) == 16
    # Strength 0: every tile of the grid is the picture itself.
    assert main(["sample", str(denoiser_run), "--from-image", str(pictures["square"]),
                 "--strength", "0", "--n", "2", "--device", "cpu",
                 "--out", str(tmp_path / "same.png")]) == 0
    assert "variations of square.png at strength 0" in capsys.readouterr().out
    grid = np.asarray(Image.open(tmp_path / "same.png"))
    square = np.asarray(Image.open(pictures["square"]))
    np.testing.assert_array_equal(grid[2:30, 2:30], square)
    np.testing.assert_array_equal(grid[2:30, 32:60], square)


@pytest.mark.parametrize("argv, message", [
    (["--sampler-steps", "0"], "sampler steps must be a whole number from 1 to 1000, not 0"),
    (["--guidance", "50"], "guidance must be a number from 0 to 20"),
    (["--from-image", "{square}", "--strength", "1.5"], "strength must be a number from 0"),
    (["--from-image", "{missing}"], "missing.png: no such picture file"),
    (["--from-image", "{text}"], "notes.png: not a picture"),
])
def test_bad_sampling_input_is_one_line(first_denoiser_run, pictures, tmp_path, capsys, argv,
                                        message):
    names = {"square": pictures["square"], "text": pictures["text"],
             "missing": tmp_path / "missing.png"}
    argv = [a.format(**names) for a in argv]
    assert main(["sample", str(first_denoiser_run), "--n", "2", "--device", "cpu",
                 "--out", str(tmp_path / "x.png"), *argv]) == 1
    assert message in _error(capsys)
    assert not (tmp_path / "x.png").exists()


def test_models_without_the_capability_refuse_in_one_line(trained_run, pictures, tmp_path,
                                                          capsys):
    out = ["--out", str(tmp_path / "x.png"), "--device", "cpu"]
    assert main(["sample", str(trained_run), "--sampler-steps", "5", *out]) == 1
    assert "dcgan draws a picture in one pass; it has no sampler steps" in _error(capsys)
    assert main(["sample", str(trained_run), "--guidance", "2", *out]) == 1
    assert "dcgan has no classifier-free guidance" in _error(capsys)
    assert main(["sample", str(trained_run), "--from-image", str(pictures["square"]), *out]) == 1
    assert "need a diffusion or flow model" in _error(capsys)
    assert main(["animate", str(trained_run), "--kind", "morph", "--input",
                 f"{pictures['square']},{pictures['bar']}", "--out", str(tmp_path / "m.gif")]) == 1
    assert "or a model that inverts pictures" in _error(capsys)


def test_flag_combinations_that_make_no_sense_are_usage_errors(first_denoiser_run, pictures,
                                                               tmp_path, capsys):
    out = ["--out", str(tmp_path / "x.png")]
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(first_denoiser_run), "--strength", "0.5", *out])
    assert exit_.value.code == EXIT_USAGE and "--strength goes with --from-image" in _error(capsys)
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(first_denoiser_run), "--reconstruct", str(pictures["square"]),
              "--from-image", str(pictures["square"]), *out])
    assert exit_.value.code == EXIT_USAGE and "cannot go together" in _error(capsys)
    assert main(["animate", str(first_denoiser_run), "--kind", "timelapse", "--sampler-steps",
                 "4", "--out", str(tmp_path / "t.gif")]) == 1
    assert "--sampler-steps applies to --kind interpolate, process, morph" in _error(capsys)


def test_animate_process_walk_and_morph(denoiser_run, pictures, tmp_path, capsys):
    cpu = ["--device", "cpu", "--json"]
    # The process is the default kind: noise, then a frame per sampler step.
    assert main(["animate", str(denoiser_run), "--sampler-steps", "5", "--labels", "3",
                 "--out", str(tmp_path / "p.gif"), *cpu]) == 0
    assert _record(capsys)["frames"] == 6
    info = read_provenance(tmp_path / "p.gif")
    assert info["kind"] == "process" and info["sampler_steps"] == 5 and info["labels"] == [3]

    assert main(["animate", str(denoiser_run), "--kind", "interpolate", "--seeds", "1,2",
                 "--frames-between", "2", "--loop", "--sampler-steps", "3", "--guidance", "1",
                 "--out", str(tmp_path / "w.gif"), *cpu]) == 0
    assert _record(capsys)["frames"] == 6
    # Re-rendered from the export, the walk keeps the sampler settings it was made with.
    assert main(["animate", str(denoiser_run), "--kind", "interpolate", "--from",
                 str(tmp_path / "w.gif"), "--format", "frames", "--scale", "1",
                 "--out", str(tmp_path / "again"), *cpu]) == 0
    capsys.readouterr()
    again = read_provenance(tmp_path / "again")
    assert again["sampler_steps"] == 3 and again["guidance"] == 1.0

    assert main(["animate", str(denoiser_run), "--kind", "morph", "--input",
                 f"{pictures['square']},{pictures['bar']}", "--frames-between", "3", "--loop",
                 "--sampler-steps", "4", "--out", str(tmp_path / "m.gif"), *cpu]) == 0
    assert _record(capsys)["frames"] == 8
    info = read_provenance(tmp_path / "m.gif")
    assert info["keyframes_from"] == "inversion" and info["morph"]["interpolation"] == "slerp"
    assert info["sampler_steps"] == 4


def test_animate_the_process_showing_each_steps_prediction(first_denoiser_run, tmp_path, capsys):
    out = ["--device", "cpu", "--sampler-steps", "3", "--json"]
    assert main(["animate", str(first_denoiser_run), "--kind", "process", "--show-prediction",
                 "--out", str(tmp_path / "guess.gif"), *out]) == 0
    assert _record(capsys)["frames"] == 4
    assert read_provenance(tmp_path / "guess.gif")["shows"] == "prediction"
    assert main(["animate", str(first_denoiser_run), "--no-show-prediction",
                 "--out", str(tmp_path / "noisy.gif"), *out]) == 0   # the process by default
    capsys.readouterr()
    assert read_provenance(tmp_path / "noisy.gif")["shows"] == "sample"
    assert main(["animate", str(first_denoiser_run), "--kind", "interpolate", "--seeds", "1,2",
                 "--show-prediction", "--out", str(tmp_path / "w.gif")]) == 1
    assert "--show-prediction applies to --kind process, not interpolate" in _error(capsys)


def test_a_bundle_samples_with_steps_and_guidance(first_denoiser_run, tmp_path, capsys):
    bundle = tmp_path / "m.atelier.safetensors"
    assert main(["export", str(first_denoiser_run), "--out", str(bundle)]) == 0
    flags = ["--n", "3", "--sampler-steps", "2", "--guidance", "3", "--device", "cpu"]
    assert main(["sample", str(bundle), *flags, "--out", str(tmp_path / "b.png")]) == 0
    assert main(["sample", str(first_denoiser_run), *flags, "--out", str(tmp_path / "r.png")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")),
                                  np.asarray(Image.open(tmp_path / "r.png")))
    assert read_provenance(tmp_path / "b.png")["sampler_steps"] == 2


def test_train_then_resume_equals_one_run(first_denoiser_run, data_spec, tmp_path, capsys):
    """train --steps 2, then train --resume --steps 4: bit for bit the run of 4
    (the U-Net, its weight average, the optimiser and the noise generator). At a
    constant rate: these models' default cosine schedule follows the budget, so
    a budget raised on resume stretches its curve (docs/ARCHITECTURE.md); a run
    stopped and resumed with the same budget is exact under it too
    (test_training_resume)."""
    name = first_denoiser_run.name.removeprefix("tiny-")
    tiny = ["--model", name, "--data", data_spec, "--width", "8", "--batch-size", "8",
            "--device", "cpu", "--seed", "3", "--no-preset", "--lr-schedule", "constant",
            "--set", "depth=2",
            "--set", "blocks=1", "--set", "sample_steps=2", "--sample-every", "1000"]
    assert main(["train", *tiny, "--steps", "4", "--out", str(tmp_path / "one")]) == 0
    assert main(["train", *tiny, "--steps", "2", "--out", str(tmp_path / "two")]) == 0
    assert main(["train", "--resume", str(tmp_path / "two"), "--steps", "4"]) == 0
    assert "from step 2" in capsys.readouterr().out
    assert_same_weights(tmp_path / "one", tmp_path / "two")
