"""Patch nearest neighbours from one picture (engine/studio/gpnn.py): the parts
(patches, folding, the searches, the pyramid) and whole pictures (sizes, seeds,
seamless tiles, retargeting, cancel). Pictures are tiny so this stays fast."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.runtime.control import RunControl
from engine.studio import gpnn
from engine.studio.gpnn import GpnnSettings, SynthesisStopped, synthesize


def texture(height: int = 40, width: int = 40, seed: int = 0, ramp: float = 0.6) -> torch.Tensor:
    """A busy, non-periodic colour picture in [0, 1]: blobs of colour on a
    left-to-right ramp, so its own left and right edges do not meet."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.full((3, height, width), 0.3)
    picture += (xs / width)[None] * ramp
    for _ in range(12):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, 6)
        picture += rng.uniform(-0.4, 0.4, (3, 1, 1)) * (((ys - cy) ** 2 + (xs - cx) ** 2) < r * r)
    return torch.from_numpy(np.clip(picture, 0, 1)).float()


FAST = GpnnSettings(iterations=4, coarsest_side=12)


@pytest.fixture(autouse=True)
def one_thread():
    """The pictures are tiny: on one thread nothing waits for a second core that
    another job holds (torch's thread barriers on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the parts ---------------------------------------------------------------------
@pytest.mark.parametrize("wrap", [False, True])
def test_folding_the_patches_of_a_picture_gives_it_back(wrap):
    picture = texture(17, 23)
    columns = gpnn._patches(picture, 5, wrap)
    assert columns.shape == (3 * 25, 17 * 23 if wrap else 13 * 19)
    assert torch.allclose(gpnn._fold(columns, (17, 23), 5, wrap), picture, atol=1e-6)


def brute_force(queries, keys, alpha):
    d = ((queries[:, None] - keys[None]) ** 2).mean(-1)
    if alpha > 0:
        d = d / (alpha + d.min(0).values)
    return d.argmin(1)


@pytest.mark.parametrize("alpha", [0.0, 0.005, 1.0])
@pytest.mark.parametrize("chunk_bytes", [gpnn.CHUNK_BYTES, 4 * 37 * 3])   # whole, and 3 rows
def test_the_exact_search_is_the_brute_force_answer(alpha, chunk_bytes, monkeypatch):
    monkeypatch.setattr(gpnn, "CHUNK_BYTES", chunk_bytes)
    g = torch.Generator().manual_seed(1)
    keys, queries = torch.rand(37, 12, generator=g), torch.rand(50, 12, generator=g)
    found = gpnn._Search(keys, (37, 1), alpha, None).exact(queries)
    assert torch.equal(found, brute_force(queries, keys, alpha))


def test_completeness_brings_in_keys_no_query_is_near():
    """Plain nearest neighbours never use key 2 (no query is near it); GPNN's
    normalisation divides by each key's own best distance, so it gets used.
    A large alpha swamps that, back to plain nearest neighbours."""
    keys = torch.tensor([[0.0], [1.0], [2.0]])
    queries = torch.tensor([[0.1], [0.2], [0.3], [0.9]])
    assert gpnn._Search(keys, (3, 1), 0.0, None).exact(queries).tolist() == [0, 0, 0, 1]
    assert 2 in gpnn._Search(keys, (3, 1), 0.005, None).exact(queries).tolist()
    assert gpnn._Search(keys, (3, 1), 10.0, None).exact(queries).tolist() == [0, 0, 0, 1]


def test_the_window_search_finds_the_best_candidate():
    g = torch.Generator().manual_seed(2)
    keys, queries = torch.rand(30, 8, generator=g), torch.rand(20, 8, generator=g)
    candidates = torch.randint(0, 30, (20, 6), generator=g)
    found = gpnn._Search(keys, (30, 1), 0.0, None).window(queries, candidates)
    d = ((queries[:, None] - keys[candidates]) ** 2).sum(-1)
    assert torch.equal(found, candidates.gather(1, d.argmin(1, keepdim=True))[:, 0])


def test_window_candidates_surround_the_match_and_stay_on_the_grid():
    matches = torch.zeros((4, 5, 2), dtype=torch.long)
    matches[1, 2] = torch.tensor([5, 5])
    candidates = gpnn._candidates(matches, (8, 9), 1, wrap=False)
    assert candidates.shape == (20, 9 + 4)
    here = set(candidates[1 * 5 + 2].tolist())
    assert {4 * 9 + 4, 5 * 9 + 5, 6 * 9 + 6} <= here
    assert candidates.min() >= 0 and candidates.max() < 8 * 9


def test_the_pyramid_shrinks_source_and_output_alike():
    levels = gpnn.pyramid((64, 96), (64, 128), GpnnSettings())
    assert levels[-1].source == (64, 96) and levels[-1].output == (64, 128)
    assert min(levels[0].source) >= 16 > min(levels[0].source) * 0.75
    for level in levels:
        assert abs(level.output[1] / level.output[0] - 2.0) < 0.15
    with pytest.raises(ConfigError, match="patch size"):
        gpnn.pyramid((5, 40), (40, 40), GpnnSettings())


@pytest.mark.parametrize("change", [{"patch_size": 6}, {"patch_size": True}, {"alpha": -1},
                                    {"diversity": math.nan}, {"iterations": 0},
                                    {"scale_factor": 0.99}, {"window": 2.5}])
def test_impossible_settings_are_refused(change):
    with pytest.raises(ConfigError):
        dataclasses.replace(GpnnSettings(), **change).validate()


def test_settings_from_a_record_round_trip_and_refuse_unknown_names():
    settings = GpnnSettings(diversity=0.5, patch_size=5)
    assert GpnnSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(ConfigError, match="unknown setting"):
        GpnnSettings.from_dict({"temperature": 1.0})


# -- whole pictures --------------------------------------------------------------------
def make(seed: int = 0, size=(40, 40), settings=FAST, **kwargs):
    return synthesize(texture(), size, settings, torch.Generator().manual_seed(seed), **kwargs)


def test_the_same_seed_gives_the_same_picture_and_another_seed_another():
    a, b, c = make(3), make(3), make(4)
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)
    assert a.image.min() >= 0 and a.image.max() <= 1


@pytest.mark.parametrize("size, tile", [((40, 40), False), ((32, 56), False), ((48, 30), True)])
def test_pictures_have_the_size_asked_for(size, tile):
    result = make(0, size, tile=tile)
    assert tuple(result.image.shape) == (3, *size)
    grid = size if tile else (size[0] - 6, size[1] - 6)
    assert tuple(result.matches.shape) == (*grid, 2)


def test_the_window_search_levels_make_a_picture_too():
    """exact_pairs low enough that the finer levels search windows."""
    settings = dataclasses.replace(FAST, exact_pairs=20_000)
    result = synthesize(texture(48, 48), (48, 48), settings, torch.Generator().manual_seed(0))
    pairs = gpnn.pair_counts(result.levels, 7, False)
    assert pairs[-1] > 20_000            # the finest level did search windows
    assert tuple(result.image.shape) == (3, 48, 48)
    # what was pasted is the source's: every colour in the output is near one in the source
    assert float((result.image - texture(48, 48)).abs().mean()) < 0.5


def seam_and_interior(image: torch.Tensor) -> tuple[float, float]:
    """The mean absolute step across the wrap-around seams (last column to the
    first, last row to the first) and the largest mean step between any two
    neighbouring columns or rows inside."""
    x = image.double()
    seam = ((x[:, :, 0] - x[:, :, -1]).abs().mean() + (x[:, 0] - x[:, -1]).abs().mean()) / 2
    columns = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=(0, 1))
    rows = (x[:, 1:] - x[:, :-1]).abs().mean(dim=(0, 2))
    return float(seam), float(torch.cat([columns, rows]).max())


def test_a_tile_has_no_seam_where_the_source_has_one():
    source = texture()
    seam, interior = seam_and_interior(source)
    assert seam > interior            # the test picture does not wrap by itself
    tile = make(0, (40, 40), tile=True).image
    seam, interior = seam_and_interior(tile)
    assert seam <= interior


def test_retargeting_without_noise_is_deterministic_and_keeps_the_scale():
    """Twice the width with no noise: the same picture every time, and its
    shapes keep their proportions: the ratio of horizontal to vertical edges
    stays near the source's, where a stretch halves it."""
    def edge_ratio(x: torch.Tensor) -> float:
        return float((x[:, :, 1:] - x[:, :, :-1]).abs().mean() / (x[:, 1:] - x[:, :-1]).abs().mean())

    settings = dataclasses.replace(FAST, diversity=0.0)
    blobs = texture(ramp=0.0)
    a = synthesize(blobs, (40, 80), settings, torch.Generator().manual_seed(0))
    b = synthesize(blobs, (40, 80), settings, torch.Generator().manual_seed(9))
    assert torch.equal(a.image, b.image)
    stretched = torch.nn.functional.interpolate(blobs[None], size=(40, 80), mode="bilinear",
                                                align_corners=False)[0]
    source = edge_ratio(blobs)
    assert abs(edge_ratio(a.image) - source) < abs(edge_ratio(stretched) - source) / 2


def test_given_noise_replaces_the_generator(monkeypatch):
    monkeypatch.setattr(gpnn, "COPY_LIMIT", 0.0)     # never draw again: the first noise is it
    shape = gpnn.noise_shape((40, 40), (40, 40), FAST, 3)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(5))
    a = synthesize(texture(), (40, 40), FAST, noise=noise)
    assert torch.equal(a.image, make(5).image)
    with pytest.raises(ValueError, match="noise must have shape"):
        synthesize(texture(), (40, 40), FAST, noise=torch.zeros(3, 2, 2))


def run_rounds(**kwargs):
    rounds = gpnn.synthesis_rounds(texture(), (40, 40), FAST, **kwargs)
    seen = []
    while True:
        try:
            seen.append(next(rounds))
        except StopIteration as finished:
            return seen, finished.value


def test_a_start_that_settles_on_the_source_is_drawn_again(monkeypatch):
    """A coarsest level that is mostly the source in place starts again from the
    seed's next noise (at most COPY_REDRAWS times), still the same for a seed."""
    plain, first = run_rounds(generator=torch.Generator().manual_seed(1))
    monkeypatch.setattr(gpnn, "COPY_LIMIT", 1.01)    # nothing passes: every redraw is used
    seen, redrawn = run_rounds(generator=torch.Generator().manual_seed(1))
    _, again = run_rounds(generator=torch.Generator().manual_seed(1))
    assert torch.equal(redrawn.image, again.image) and not torch.equal(redrawn.image, first.image)
    extra = gpnn.COPY_REDRAWS * FAST.iterations
    assert seen[-1][1] == plain[-1][1] + extra and seen[-1][0] == seen[-1][1]
    # given noise (a flip-book's walk) is never drawn again
    noise = torch.randn(gpnn.noise_shape((40, 40), (40, 40), FAST, 3),
                        generator=torch.Generator().manual_seed(1))
    assert run_rounds(noise=noise)[0][-1][1] == plain[-1][1]


def test_rounds_report_progress_to_the_total():
    rounds = gpnn.synthesis_rounds(texture(), (40, 40), FAST, torch.Generator().manual_seed(0))
    seen = []
    while True:
        try:
            seen.append(next(rounds))
        except StopIteration as finished:
            result = finished.value
            break
    assert seen[-1][0] == seen[-1][1] and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))
    assert isinstance(result, gpnn.Synthesis)


def test_a_stopped_control_stops_between_rounds():
    control = RunControl()
    rounds = gpnn.synthesis_rounds(texture(), (40, 40), FAST, torch.Generator().manual_seed(0),
                                   control=control)
    next(rounds)
    control.stop()
    with pytest.raises(SynthesisStopped):
        next(rounds)


def test_moved_share_is_zero_for_the_source_in_place_and_one_when_shifted():
    grid = torch.stack(torch.meshgrid(torch.arange(20), torch.arange(30), indexing="ij"), -1)
    assert gpnn.moved_share(grid, (26, 36), (26, 36), 7) == 0.0
    assert gpnn.moved_share(grid + torch.tensor([0, 8]), (26, 36), (26, 36), 7) == 1.0
    # positions scale to the source's frame: half as wide, each patch from twice as far right
    narrow = grid[:, :15] * torch.tensor([1, 2])
    assert gpnn.moved_share(narrow, (26, 36), (26, 18), 7) == 0.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_it_runs_on_a_gpu_with_the_cpu_noise():
    cpu = make(2).image
    gpu = synthesize(texture().cuda(), (40, 40), FAST, torch.Generator().manual_seed(2)).image
    assert gpu.device.type == "cuda"
    assert float((gpu.cpu() - cpu).abs().mean()) < 0.05
