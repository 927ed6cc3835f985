"""The recurrent families (row-lstm, draw, convlstm): shapes, exactness of the
row-by-row sampler, determinism by seed, the process animations, bad settings."""
from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.models import build_model, model_config, model_names

CPU = torch.device("cpu")
TINY = {
    "row-lstm": dict(image_size=8, width=8, layers=2),
    "draw": dict(image_size=8, width=16, latent_dim=4, steps=3, write_size=3),
    "convlstm": dict(image_size=8, width=4, layers=2, patch=2, context_frames=3, future_frames=2),
}


def make(name: str, seed: int = 0, **settings):
    return build_model(name, model_config(name, **{**TINY[name], **settings}), CPU, seed=seed)


def still_batch(n: int = 4, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def sequence_batch(n: int = 3, frames: int = 5, size: int = 8) -> torch.Tensor:
    return torch.rand(n, frames, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_registered():
    assert {"row-lstm", "draw", "convlstm"} <= set(model_names())


@pytest.mark.parametrize("name", ["row-lstm", "draw", "convlstm"])
def test_sample_shapes_range_and_seed_determinism(name):
    model = make(name)
    if name == "convlstm":
        model.train_step(sequence_batch())   # keeps the openings the gallery starts from
    a = model.sample([3, 1, 2])
    assert a.shape == (3, 1, 8, 8) and a.min() >= -1 and a.max() <= 1
    # A tile depends on its seed alone, not on what was sampled with it (up to
    # float rounding: convolution kernels may differ with the batch size).
    assert torch.allclose(model.sample([1])[0], a[1], atol=1e-5)
    assert torch.equal(model.sample([3, 1, 2]), a)


@pytest.mark.parametrize("name", ["row-lstm", "draw", "convlstm"])
def test_process_frames(name):
    model = make(name)
    frames = model.process_batch([0, 5])
    expected_t = {"row-lstm": 8, "draw": 3, "convlstm": 3 + 2}[name]
    assert frames.shape == (expected_t, 2, 1, 8, 8)
    assert frames.min() >= -1 and frames.max() <= 1
    assert not frames.requires_grad
    assert model.network.training   # sampling put it back in training mode
    # The animation hook: one seed, (T, C, H, W), the same frames.
    assert torch.allclose(model.process_frames(5), frames[:, 1], atol=1e-5)


# Black-and-white pictures, so dynamic binarization draws the same pixels each step.
@pytest.mark.parametrize("name,batch", [("row-lstm", still_batch().sign()),
                                        ("draw", still_batch().sign()),
                                        ("convlstm", sequence_batch())])
def test_training_lowers_the_loss_on_one_batch(name, batch):
    model = make(name, learning_rate=3e-3)
    first = None
    for _ in range(8):
        losses = model.train_step(batch)
        assert all(v.ndim == 0 and not v.requires_grad for v in losses.values())
        main = next(iter(losses.values()))
        first = main if first is None else first
    assert main < first


def test_row_lstm_sample_is_exactly_the_sequential_sample():
    # Each pixel is 1 exactly when its uniform < p(x_ij = 1 | pixels before it):
    # the row-wise fixed point must agree with the full network everywhere.
    model = make("row-lstm", width=12)
    latents = model.latents_for_seeds(list(range(6)))
    with torch.inference_mode():
        model.network.eval()
        x = model.decode(latents).add(1).div(2)
        p = torch.sigmoid(model.network(x))
    assert torch.equal(x, (latents < p).float())


def test_row_lstm_fills_in_row_by_row():
    frames = make("row-lstm").process_frames(7)[:, 0]
    for r in range(8):
        assert (frames[r, r + 1:] == 0).all()           # rows not yet drawn are grey
        assert set(frames[r, :r + 1].unique().tolist()) <= {-1.0, 1.0}
        assert torch.equal(frames[r, :r + 1], frames[-1, :r + 1])   # drawn rows never change


def test_row_lstm_likelihood_is_a_normalised_distribution():
    # Summed over all 2^16 binary 4x4 images, the probabilities make exactly 1.
    model = make("row-lstm", image_size=4, width=4, layers=1)
    codes = torch.arange(2 ** 16)
    images = ((codes[:, None] >> torch.arange(16)) & 1).float().view(-1, 1, 4, 4)
    with torch.inference_mode():
        total = torch.logsumexp(-model.nll(images), dim=0)
    assert abs(float(total)) < 1e-3


def test_draw_bound_is_reconstruction_plus_kl_and_positive():
    model = make("draw")
    binary = model.binarize(still_batch())
    reconstruction, kl = model.bound(binary)
    assert reconstruction.shape == kl.shape == (4,)
    assert (kl >= 0).all() and (reconstruction > 0).all()


def test_draw_attention_starts_by_seeing_the_whole_picture():
    # A 2 x 2 read on a digit-like picture: ink in the middle, black corners.
    # Started at the paper's zero point, the read filters sat on the corner
    # pixels and saw nothing, and the posterior collapsed on MNIST.
    model = make("draw", image_size=28, read_size=2, write_size=5)
    picture = torch.zeros(1, 1, 28, 28)
    picture[..., 8:20, 10:18] = 1.0
    h_dec = torch.zeros(1, model.config.width)
    with torch.no_grad():
        glimpse = model.network.read(picture, torch.zeros_like(picture), h_dec)
    seen = glimpse[0, :4]   # the picture's 2 x 2 glimpse (then the error image's)
    assert (seen > 0.05).all()
    # And the write spreads a patch over the whole canvas, not onto 25 dots.
    with torch.no_grad():
        canvas = model.network.write(torch.zeros(1, model.config.width))
    assert canvas.shape == (1, 1, 28, 28)


def test_draw_kl_weight_warms_up_and_resumes():
    model = make("draw", warmup_steps=4)
    assert model.kl_weight() == 0.0
    for _ in range(2):
        losses = model.train_step(still_batch())
    assert model.kl_weight() == 0.5
    # The reported bound is the full one, whatever the weight in the loss.
    assert torch.isclose(losses["nll_bound_nats"], losses["reconstruction"] + losses["kl"])
    tensors, settings = model.training_state()
    again = make("draw", warmup_steps=4)
    again.load_training_state(tensors, settings)
    assert again.kl_weight() == 0.5
    assert make("draw", warmup_steps=0).kl_weight() == 1.0


def test_draw_process_ends_on_the_sample():
    model = make("draw")
    assert torch.allclose(model.process_frames(4)[-1], model.sample([4])[0], atol=1e-6)


def test_convlstm_continues_any_number_of_frames():
    model = make("convlstm")
    out = model.continue_frames(sequence_batch(n=1, frames=4), 7)
    assert out.shape == (1, 7, 1, 8, 8) and out.min() >= -1 and out.max() <= 1
    with pytest.raises(ConfigError, match="frames to add"):
        model.continue_frames(sequence_batch(n=1), 0)


def test_convlstm_refuses_still_images():
    with pytest.raises(ConfigError, match="image sequences"):
        make("convlstm").train_step(still_batch())


def test_convlstm_keeps_training_openings_for_the_gallery():
    model = make("convlstm")
    batch = sequence_batch()
    model.train_step(batch)
    assert int(model.network.prompt_count) == 3
    kept = model.network.prompts[:3].float().div(255).mul(2).sub(1)
    assert torch.allclose(kept, batch[:, :3], atol=1 / 255)
    frames = model.process_frames(1)
    assert torch.allclose(frames[:3], batch[1, :3], atol=1 / 255)


@pytest.mark.parametrize("name,settings,message", [
    ("row-lstm", dict(channels=3), "channels must be 1"),
    ("row-lstm", dict(layers=0), "layers"),
    ("draw", dict(steps=0), "draw steps"),
    ("draw", dict(read_size=99), "read_size"),
    ("convlstm", dict(image_size=30, patch=4), "multiple of the patch"),
    ("convlstm", dict(kernel=2), "kernel"),
])
def test_impossible_settings_are_refused(name, settings, message):
    with pytest.raises(ConfigError, match=message):
        model_config(name, **{**TINY[name], **settings})


@pytest.mark.parametrize("name", ["row-lstm", "draw", "convlstm"])
def test_same_seed_same_weights(name):
    a, b = make(name, seed=3), make(name, seed=3)
    for (k, va), vb in zip(a.network.state_dict().items(), b.network.state_dict().values()):
        assert torch.equal(va, vb), k


# -- 8-bit row-lstm (levels=256): a 256-way softmax per pixel ---------------------

def test_row_lstm_8bit_sample_is_exactly_the_sequential_sample():
    # Each pixel's grey level is where its distribution's cumulative sum, under
    # the full network given everything sampled before it, passes its uniform.
    model = make("row-lstm", levels=256, width=12)
    latents = model.latents_for_seeds(list(range(4)))
    with torch.inference_mode():
        model.network.eval()
        x = model.decode(latents).add(1).div(2)
        cdf = torch.softmax(model.network(x), dim=1).cumsum(1)
        expected = (cdf < latents).sum(1, keepdim=True).clamp_max(255)
    assert torch.equal(x.mul(255).round().long(), expected)
    assert len(x.mul(255).round().unique()) > 2    # grey levels, not black and white


def test_row_lstm_8bit_likelihood_and_bits_per_dim():
    from engine.metrics.likelihood import negative_log_likelihoods, prepare_test_images
    model = make("row-lstm", levels=256)
    assert model.likelihood_data == "8bit"
    images = torch.randint(0, 256, (5, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        nll = model.nll(images.float().div(255))
    # An untrained model is close to uniform over 256 levels: 8 bits per pixel.
    assert nll.shape == (5,) and abs(float(nll.mean()) / (64 * 0.6931471805599453) - 8) < 0.5
    *_, (_, result) = negative_log_likelihoods(model, prepare_test_images(images.numpy().astype("uint8"), "8bit"))
    assert result["nll_nats"] == pytest.approx(float(nll.double().mean()), rel=1e-5)
    assert result["nll_bits_per_dim"] == pytest.approx(result["nll_nats"] / (64 * 0.6931471805599453))


def test_row_lstm_8bit_trains_and_fills_in_row_by_row():
    model = make("row-lstm", levels=256, learning_rate=3e-3)
    batch = still_batch()
    first = model.train_step(batch)
    for _ in range(6):
        last = model.train_step(batch)
    assert set(first) == {"nll_nats", "bits_per_dim"} and last["nll_nats"] < first["nll_nats"]
    frames = model.process_frames(2)[:, 0]
    for r in range(8):
        assert (frames[r, r + 1:] == 0).all()
        assert torch.equal(frames[r, :r + 1], frames[-1, :r + 1])


def test_row_lstm_levels_are_2_or_256():
    with pytest.raises(ConfigError, match="levels"):
        model_config("row-lstm", **{**TINY["row-lstm"], "levels": 16})
