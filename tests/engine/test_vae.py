"""The VAE family: reference size, likelihoods, KL warm-up, reconstructions,
likelihood measures and the `likelihood` command."""
from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.cli.main import main, parse_model_settings
from engine.errors import ConfigError
from engine.cli.likelihood import evaluate_run
from engine.models import build_model, model_config
from engine.models.likelihoods import choose_likelihood, log_likelihood
from engine.models.vae import VaeModel, binarize
from engine.models.vae_networks import conv_plan
from engine.training import TrainConfig, TrainingSession, train

CPU = torch.device("cpu")
# The shared reference loops sit beside the checkout, as benchmarks/ expects.
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "bench" / "reference_loops.py"


def make(name: str = "mlp-vae", seed: int = 0, **settings) -> VaeModel:
    return build_model(name, model_config(name, **settings), CPU, seed=seed)


def test_mlp_vae_is_the_pytorch_examples_size():
    model = make()
    assert model.parameter_count() == 652_824
    if REFERENCE.exists():
        spec = importlib.util.spec_from_file_location("reference_loops", REFERENCE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert model.parameter_count() == sum(p.numel() for p in module.VAE().parameters())


def test_deeper_mlp_adds_hidden_layers_and_keeps_the_reference_names():
    one, two = make(), make(hidden_layers=2, hidden=64)
    assert "deeper.0.weight" not in one.encoder.state_dict()
    assert set(one.encoder.state_dict()) < set(two.encoder.state_dict())
    assert two.parameter_count() == make(hidden=64).parameter_count() + 2 * (64 * 64 + 64)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert torch.isfinite(two.train_step(x)["loss"])
    with pytest.raises(ConfigError, match="hidden layers must be between 1 and 8"):
        make(hidden_layers=0)


def test_the_encoder_reads_intensities_in_zero_to_one():
    # The reference feeds [0, 1]; our images are [-1, 1] and are shifted first.
    model = make()
    enc = model.encoder
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    expected = torch.relu(enc.hidden((x.flatten(1) + 1) / 2))
    assert torch.allclose(enc.mu(expected), enc(x)[0])


@pytest.mark.parametrize("size,widths,side", [(28, [8, 16], 7), (32, [8, 16], 8),
                                              (36, [8, 16], 9), (64, [8, 16, 32], 8)])
def test_conv_plan(size, widths, side):
    assert conv_plan(size, 8) == (widths, side)


@pytest.mark.parametrize("size", [28, 36, 48, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_vae_sizes(size, channels):
    model = make("conv-vae", image_size=size, channels=channels, width=8)
    x = torch.rand(2, channels, size, size) * 2 - 1
    assert model.reconstruct(x).shape == (2, channels, size, size)
    assert model.sample([0]).shape == (1, channels, size, size)


@pytest.mark.parametrize("settings,message", [
    ({"image_size": 30}, "multiple of 4"), ({"image_size": 68}, "multiple of 4"),
    ({"likelihood": "gaussian"}, "unknown likelihood"), ({"beta": -1}, "beta"),
    ({"warmup_steps": -5}, "warm-up"), ({"latent_dim": 0}, "latent size"),
    ({"channels": 3, "binarize": True}, "binarize needs"),
])
def test_impossible_settings(settings, message):
    with pytest.raises(ConfigError, match=message):
        model_config("conv-vae", **settings)


def test_a_conditional_vae_without_labels_is_refused(tiny_config, tmp_path, h):
    folder = tmp_path / "unlabelled"
    h.write_idx(folder / "train-images-idx3-ubyte.gz", h.pattern_images(16))
    with pytest.raises(ConfigError, match="needs data with class labels"):
        TrainingSession(tiny_config(model="cvae", data=f"idx:{folder}"))


def test_the_likelihood_fits_the_data():
    assert choose_likelihood("auto", 1) == "bernoulli"
    assert choose_likelihood("auto", 3) == "logistic"
    assert make("conv-vae", channels=3, image_size=32, width=8).likelihood == "logistic"


def test_discretized_logistic_is_a_distribution_over_256_levels():
    levels = torch.arange(256, dtype=torch.float32) / 127.5 - 1   # every 8-bit value
    x = levels.view(256, 1, 1, 1)
    for mean, log_scale in [(0.0, -2.0), (0.9, -4.0), (-1.0, 0.0), (0.3, -6.5)]:
        params = torch.tensor([mean, log_scale]).view(1, 2, 1, 1).expand(256, 2, 1, 1)
        total = log_likelihood("logistic", params, x).exp().sum()
        assert abs(float(total) - 1) < 2e-3, (mean, log_scale, float(total))


def test_bernoulli_likelihood_of_a_binary_image():
    logits = torch.tensor([[[[0.0, 2.0]]]])
    x = torch.tensor([[[[1.0, -1.0]]]])        # white, black
    expected = math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-2)))
    assert float(log_likelihood("bernoulli", logits, x)) == pytest.approx(expected, abs=1e-6)


def test_binarize_draws_each_pixel_with_its_intensity():
    g = torch.Generator().manual_seed(0)
    x = torch.full((200, 1, 10, 10), 0.5)           # intensity 0.75
    b = binarize(x, g)
    assert set(b.unique().tolist()) == {-1.0, 1.0}
    assert abs(float((b > 0).float().mean()) - 0.75) < 0.01


def test_kl_warm_up_ramps_to_beta():
    model = make(beta=4.0, warmup_steps=4)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    weights = []
    for _ in range(6):
        weights.append(model.kl_weight())
        model.train_step(x)
    assert weights == [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    tensors, settings = model.training_state()
    other = make(beta=4.0, warmup_steps=4)
    other.load_training_state(tensors, settings)
    assert other.steps_done == 6 and other.kl_weight() == 4.0


def test_iwae_tightens_the_elbo_and_measures_are_reproducible():
    model = make(latent_dim=4, hidden=32)
    x = (torch.rand(16, 1, 28, 28) > 0.5).float() * 2 - 1
    for _ in range(20):
        model.train_step(x)
    elbo = torch.stack([model.negative_elbo(x, seed=s) for s in range(8)]).mean(0)
    iwae = model.iwae_nll(x, k=64, chunk=16)
    assert iwae.shape == (16,) and torch.isfinite(iwae).all()
    assert float(iwae.mean()) < float(elbo.mean())
    assert torch.equal(iwae, model.iwae_nll(x, k=64, chunk=16))
    assert torch.equal(model.negative_elbo(x, seed=3), model.negative_elbo(x, seed=3))
    # Measuring leaves the training noise alone, so it cannot change a run.
    before = model.noise.get_state()
    model.negative_elbo(x)
    assert torch.equal(before, model.noise.get_state())


@pytest.fixture(scope="module")
def two_class_folder(tmp_path_factory):
    """Class 0: a square at the top left; class 1: at the bottom right."""
    from tests.engine.conftest import write_idx

    rng = np.random.default_rng(0)
    labels = np.arange(64, dtype=np.uint8) % 2
    images = np.zeros((64, 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        y, x = rng.integers(0, 4, size=2) + (2 if label == 0 else 16)
        images[i, y:y + 10, x:x + 10] = 255
    folder = tmp_path_factory.mktemp("two-classes")
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[:16])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[:16])
    return folder


@pytest.fixture
def one_thread():
    """Tiny networks step faster on one thread (no fork-join per operation)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_conditional_samples_follow_the_label(two_class_folder, one_thread):
    # A 2-d latent with beta 4 leaves where the square is to the label.
    config = TrainConfig(model="cvae", data=f"idx:{two_class_folder}", batch_size=16, steps=300,
                         learning_rate=1e-2, device="cpu",
                         model_settings={"hidden": 64, "latent_dim": 2, "beta": 4.0})
    session = TrainingSession(config)
    for _ in range(config.steps):
        session.step()
    seeds = list(range(8))
    top_left = session.model.sample(seeds, labels=[0] * 8)
    bottom_right = session.model.sample(seeds, labels=[1] * 8)

    def ink(images, rows, cols):   # the share of bright pixels in a quarter
        return float((images[:, :, rows, cols] > 0).float().mean()) + 1e-3
    tl, br = slice(0, 14), slice(14, 28)
    assert ink(top_left, tl, tl) > 10 * ink(top_left, br, br)
    assert ink(bottom_right, br, br) > 10 * ink(bottom_right, tl, tl)
    # Reconstructions keep each image's square in its quarter.
    images, labels = session._reconstruction_inputs()
    recon = session.model.reconstruct(images, labels)
    assert float(((recon > 0) != (images > 0)).float().mean()) < 0.1


def test_a_vae_run_shows_reconstructions_and_a_gan_run_does_not(tiny_config, tmp_path, h):
    vae_events = list(train(tiny_config(model="mlp-vae", steps=2), tmp_path / "vae"))
    grids = [e.reconstructions for e in h.of_type(vae_events, "Samples")]
    assert grids and all(g is not None and g.dtype == np.uint8 for g in grids)
    assert grids[-1].shape[:2] == h.of_type(vae_events, "Samples")[-1].grid.shape[:2]
    gan_events = list(train(tiny_config(model="mlp-gan", steps=1), tmp_path / "gan"))
    assert all(e.reconstructions is None for e in h.of_type(gan_events, "Samples"))


def test_a_run_records_model_settings_and_the_vae_learning_rate(tiny_config, tmp_path):
    list(train(tiny_config(model="mlp-vae", steps=1, model_settings={"beta": 2.0}), tmp_path / "r"))
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    # The MLP VAE's own rate (3e-3, decayed by its cosine schedule), not a GAN's 2e-4.
    assert saved["model_config"]["beta"] == 2.0 and saved["model_config"]["learning_rate"] == 3e-3
    assert saved["train"]["lr_schedule"] == "auto"
    assert saved["model_config"]["num_classes"] == 10   # from the data's labels
    with pytest.raises(ConfigError, match="unknown VaeConfig settings: nope"):
        list(train(tiny_config(model="mlp-vae", model_settings={"nope": 1}), tmp_path / "bad"))


def test_evaluate_run_reports_nats_per_image(tiny_config, tmp_path):
    list(train(tiny_config(model="mlp-vae", steps=3, model_settings={"binarize": True}),
               tmp_path / "run"))
    result = evaluate_run(tmp_path / "run", k=8, subset=4, device="cpu")
    assert result["binarized"] and result["images"] == 16 and result["iwae_images"] == 4
    assert 0 < result["iwae_nll_nats"] < 28 * 28 * math.log(2) * 2
    assert 0 < result["negative_elbo_nats"] < 10_000
    assert evaluate_run(tmp_path / "run", k=8, subset=4, device="cpu") == {
        **result, "elbo_seconds": pytest.approx(result["elbo_seconds"], abs=100),
        "iwae_seconds": pytest.approx(result["iwae_seconds"], abs=100)}


def test_cli_likelihood(tiny_config, trained_run, tmp_path, capsys):
    list(train(tiny_config(model="conv-vae", steps=2), tmp_path / "run"))
    assert main(["likelihood", str(tmp_path / "run"), "--k", "4", "--subset", "2", "--limit", "8",
                 "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 8 and out["iwae_k"] == 4 and out["negative_elbo_nats"] > 0
    assert main(["likelihood", str(trained_run), "--device", "cpu"]) == 1
    assert "does not measure likelihood" in capsys.readouterr().err


def test_cli_set_parses_values():
    assert parse_model_settings(["beta=4", "conditional=true", "likelihood=logistic",
                                 "warmup_steps=100"]) == {
        "beta": 4, "conditional": True, "likelihood": "logistic", "warmup_steps": 100}
    with pytest.raises(SystemExit):
        parse_model_settings(["beta"])


@pytest.mark.slow
def test_mlp_vae_learns_mnist(tmp_path):
    """2,000 steps of batch 128 (about 4 epochs): the test -ELBO (pytorch/examples
    measure) falls well below its untrained ~540 nats; 10 epochs reach about 104."""
    config = TrainConfig(model="mlp-vae", data="mnist", batch_size=128, steps=2000, device="cpu")
    list(train(config, tmp_path / "run"))
    result = evaluate_run(tmp_path / "run", limit=2000, device="cpu")
    assert result["negative_elbo_nats"] < 115
