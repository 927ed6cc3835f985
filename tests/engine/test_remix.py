"""What an artist does with one picture (engine/studio/remix.py): loading any
picture, variations by seed, sizes, tiles, the flip-book, provenance, estimates
and refusals, and cancel within a second."""
from __future__ import annotations

import dataclasses
import hashlib
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data.decode import WITHIN, DecodeOptions, decode_image
from engine.errors import ConfigError, DataError
from engine.runtime.control import RunControl
from engine.studio import remix
from engine.studio.gpnn import GpnnSettings
from engine.studio.remix import (FlipbookSettings, Flipbook, RemixProgress, Variation, flipbook,
                                 load_source, variations)
from tests.engine import messy_images

FAST = GpnnSettings(iterations=3, coarsest_side=12)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny pictures: one thread never waits for a core another job holds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(width: int = 48, height: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.full((height, width, 3), 90.0)
    for _ in range(14):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, 7)
        picture[((ys - cy) ** 2 + (xs - cx) ** 2) < r * r] = rng.uniform(0, 255, 3)
    return picture.astype(np.uint8)


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "blobs.png"
    Image.fromarray(blobs()).save(path)
    return path


def made(events) -> list[Variation]:
    return [e for e in events if isinstance(e, Variation)]


# -- loading --------------------------------------------------------------------------
def test_a_picture_loads_at_its_own_shape_with_its_digest(picture):
    source = load_source(picture)
    assert source.pixels.shape == (40, 48, 3) and source.pixels.dtype == np.uint8
    assert source.size == (48, 40) and source.original_size == (48, 40)
    assert source.sha256 == hashlib.sha256(picture.read_bytes()).hexdigest()
    assert source.record() == {"source": "blobs.png", "source_sha256": source.sha256,
                               "source_size": [48, 40]}


def test_a_large_picture_is_reduced_keeping_its_aspect(tmp_path, monkeypatch):
    monkeypatch.setattr(remix, "MAX_SOURCE_SIDE", 64)
    path = tmp_path / "wide.png"
    Image.fromarray(np.tile(blobs(), (2, 4, 1))).save(path)      # 192 x 80
    source = load_source(path)
    assert source.size == (64, 27)
    assert source.original_size == (192, 80)


def test_the_decoder_keeps_the_aspect_within_a_side(tmp_path):
    path = messy_images.save(messy_images.halves(40, 20), tmp_path / "h.png")
    small = decode_image(path, DecodeOptions(size=20, fit=WITHIN)).pixels
    assert small.shape == (3, 10, 20)
    same = decode_image(path, DecodeOptions(size=400, fit=WITHIN)).pixels
    assert same.shape == (3, 20, 40)           # never enlarged


@pytest.mark.parametrize("make, channels", [(messy_images.cmyk_jpeg, 3),
                                            (messy_images.grey16_png, 1)])
def test_cmyk_and_16_bit_pictures_load_through_the_decoder(tmp_path, make, channels):
    path = make(tmp_path / "awkward.img")
    big = Image.open(path)
    big = big.resize((32, 32))
    big.save(path, format=Image.open(path).format)
    source = load_source(path)
    assert source.pixels.shape == (32, 32, channels)


def test_transparency_is_put_on_white(tmp_path):
    rgba = np.zeros((24, 24, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :12, 3] = 255            # left half opaque red, right half transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels = load_source(path).pixels
    assert tuple(pixels[5, 2]) == (200, 0, 0) and tuple(pixels[5, 20]) == (255, 255, 255)
    dropped = load_source(rgba).pixels      # pixels from the GUI: the same
    assert np.array_equal(dropped, pixels)


@pytest.mark.parametrize("write, message", [
    (lambda p: messy_images.plain(p, size=(8, 8), fmt="PNG"), "too small to remix"),
    (lambda p: messy_images.huge_header_png(p), "decompression bomb"),
    (lambda p: p.write_bytes(b"not a picture at all"), "not a picture"),
    (lambda p: messy_images.truncated(p), "damaged or truncated"),
])
def test_bad_pictures_are_refused_naming_the_file(tmp_path, write, message):
    path = tmp_path / "bad.png"
    write(path)
    with pytest.raises(DataError, match=message) as caught:
        load_source(path)
    assert "bad.png" in str(caught.value)


# -- variations ---------------------------------------------------------------------
def test_the_same_seed_gives_the_same_variation(picture):
    source = load_source(picture)
    first = made(variations(source, [4, 5], settings=FAST))
    again = made(variations(source, [5], settings=FAST))
    assert [v.seed for v in first] == [4, 5]
    assert np.array_equal(first[1].image, again[0].image)
    assert not np.array_equal(first[0].image, first[1].image)


@pytest.mark.parametrize("size, tile", [(None, False), ((64, 32), False), ((40, 40), True)])
def test_variations_have_the_size_asked_for(picture, size, tile):
    source = load_source(picture)
    [v] = made(variations(source, [0], size=size, tile=tile, settings=FAST))
    w, h = size or source.size
    assert v.image.shape == (h, w, 3) and v.image.dtype == np.uint8
    assert v.provenance["size"] == [w, h] and v.provenance["tile"] is tile
    assert 0.0 <= v.moved_share <= 1.0


def test_every_variation_records_its_source_settings_and_seed(picture):
    source = load_source(picture)
    [v] = made(variations(source, [7], settings=FAST))
    record = v.provenance
    assert record["kind"] == "remix" and record["method"] == "gpnn" and record["seed"] == 7
    assert record["source_sha256"] == source.sha256 and record["source"] == "blobs.png"
    assert GpnnSettings.from_dict(record["gpnn"]) == FAST


def test_a_tile_wraps_without_a_seam(picture):
    source = load_source(picture)
    [v] = made(variations(source, [1], size=(48, 40), tile=True, settings=FAST))
    x = v.image.astype(np.float64)
    seam = (np.abs(x[:, 0] - x[:, -1]).mean() + np.abs(x[0] - x[-1]).mean()) / 2
    interior = max(np.abs(np.diff(x, axis=1)).mean(axis=(0, 2)).max(),
                   np.abs(np.diff(x, axis=0)).mean(axis=(1, 2)).max())
    assert seam <= interior


def test_progress_comes_before_each_picture_and_ends_full(picture):
    events = list(variations(load_source(picture), [0, 1], settings=FAST))
    progress = [e for e in events if isinstance(e, RemixProgress)]
    assert progress and progress[-1].fraction == pytest.approx(1.0)
    assert isinstance(events[-1], Variation)
    assert [e.picture for e in progress] == sorted(e.picture for e in progress)


def test_retarget_rearranges_to_the_new_shape(picture):
    source = load_source(picture)
    wide = remix.retarget(source, 96, 40, settings=dataclasses.replace(FAST, diversity=0.0))
    assert wide is not None and wide.image.shape == (40, 96, 3)
    assert wide.provenance["gpnn"]["diversity"] == 0.0


def test_a_smaller_output_is_made_from_the_whole_picture_reduced(picture):
    source = load_source(picture)          # 48 x 40
    assert remix.working_source(source, (24, 20)).shape == (20, 24, 3)
    assert remix.working_source(source, (96, 40)).shape == (40, 48, 3)    # never enlarged
    assert remix.working_source(source, (24, 40)).shape == (40, 48, 3)    # covers the height


def test_stop_ends_within_a_second(tmp_path):
    """A 256 x 256 picture takes seconds; stopping it ends the work within 1 s."""
    path = tmp_path / "big.png"
    Image.fromarray(np.tile(blobs(64, 64), (4, 4, 1))).save(path)
    control = RunControl()
    events = variations(load_source(path), [0, 1, 2], settings=GpnnSettings(), control=control)
    first = next(events)
    assert isinstance(first, RemixProgress)
    stopped_at: list[float] = []

    def stop_soon() -> None:
        time.sleep(0.3)
        stopped_at.append(time.perf_counter())
        control.stop()

    stopper = threading.Thread(target=stop_soon)
    stopper.start()
    rest = list(events)
    ended = time.perf_counter()
    stopper.join()
    assert not made(rest)
    assert ended - stopped_at[0] < 1.0


# -- sizes, estimates and refusals -------------------------------------------------------
def test_a_size_needing_gigabytes_is_refused_with_an_estimate_and_what_fits(picture):
    source = load_source(picture)
    with pytest.raises(ConfigError, match=r"1200 x 1200 would take about \d+ s and 2\.\d GB per "
                                          r"picture on cpu; .*\(about \d+ x \d+ fits\).*--allow-slow"):
        remix.check_size(source, (1200, 1200), GpnnSettings(), False, "cpu")


def test_a_size_taking_minutes_is_refused(picture, monkeypatch):
    monkeypatch.setattr(remix, "LIMIT_SECONDS", 2.0)
    with pytest.raises(ConfigError, match="would take about"):
        remix.check_size(load_source(picture), (512, 512), GpnnSettings(), False, "cpu")
    with pytest.raises(ConfigError, match="would take about"):
        list(variations(load_source(picture), [0], size=(512, 512)))
    assert remix.check_size(load_source(picture), (64, 64), GpnnSettings(), False, "cpu")


def test_a_confirmed_slow_size_passes_but_never_beyond_memory(picture, monkeypatch):
    source = load_source(picture)
    found = remix.check_size(source, (1200, 1200), GpnnSettings(), False, "cpu", allow_slow=True)
    assert found.bytes > remix.LIMIT_BYTES
    monkeypatch.setattr(remix, "available_memory", lambda device: 10 * 2**20)
    with pytest.raises(ConfigError, match="more than the 10.0 MB free"):
        remix.check_size(source, (64, 64), GpnnSettings(), False, "cpu", allow_slow=True)


@pytest.mark.parametrize("size", [(8, 64), (64, 5000), (64.5, 64), (True, 64)])
def test_sizes_out_of_range_are_refused(picture, size):
    with pytest.raises(ConfigError, match="must be a whole number of pixels"):
        remix.check_size(load_source(picture), size, GpnnSettings(), False, "cpu")


def test_the_estimate_grows_with_the_size():
    small = remix.estimate((128, 128), (128, 128), GpnnSettings(), False)
    large = remix.estimate((256, 256), (256, 256), GpnnSettings(), False)
    assert 0 < small.seconds < large.seconds and 0 < small.bytes < large.bytes
    assert "per picture on cpu" in large.describe()


def test_sizes_parse_from_text():
    assert remix.parse_size("384x256") == (384, 256)
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        remix.parse_size("384 by 256")


def test_bad_seeds_are_refused(picture):
    with pytest.raises(ConfigError):
        list(variations(load_source(picture), [], settings=FAST))
    with pytest.raises(ConfigError):
        list(variations(load_source(picture), [-1], settings=FAST))


# -- the flip-book ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["drift", "walk", "independent"])
def test_flipbook_frames_and_record(picture, mode):
    flip = FlipbookSettings(frames=3, mode=mode, crossfade=0)
    [book] = [e for e in flipbook(load_source(picture), 2, flip, settings=FAST)
              if isinstance(e, Flipbook)]
    assert book.frames.shape == (3, 40, 48, 3)
    assert book.provenance["kind"] == "flipbook" and book.provenance["seed"] == 2
    assert book.provenance["flipbook"]["mode"] == mode
    assert book.flicker == pytest.approx(remix.flicker(book.frames, loop=True))


def test_the_same_seed_gives_the_same_flipbook(picture):
    flip = FlipbookSettings(frames=3, mode="walk")
    books = [[e for e in flipbook(load_source(picture), 1, flip, settings=FAST)
              if isinstance(e, Flipbook)][0] for _ in range(2)]
    assert np.array_equal(books[0].frames, books[1].frames)


def test_crossfades_add_frames_and_lower_the_flicker():
    frames = np.stack([np.full((4, 4, 1), v, np.uint8) for v in (0, 90, 180)])
    faded = remix.crossfade(frames, 2, loop=False)
    assert len(faded) == FlipbookSettings(frames=3, crossfade=2, loop=False).length() == 7
    assert faded[1, 0, 0, 0] == 30 and faded[-1, 0, 0, 0] == 180
    assert remix.flicker(faded) == pytest.approx(30.0)
    assert remix.flicker(frames) == pytest.approx(90.0)
    looped = remix.crossfade(frames, 2, loop=True)
    assert len(looped) == FlipbookSettings(frames=3, crossfade=2, loop=True).length() == 9
    assert remix.flicker(looped, loop=True) == pytest.approx(40.0)   # 180 back to 0 in 3 steps


def test_keyframe_flipbook_refuses_too_few_or_mismatched_pictures():
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ConfigError, match="at least two"):
        remix.keyframe_flipbook([a], 2)
    with pytest.raises(ConfigError, match="same size"):
        remix.keyframe_flipbook([a, np.zeros((5, 4, 3), np.uint8)], 2)
    assert len(remix.keyframe_flipbook([a, a + 10], 3, loop=True)) == 8


@pytest.mark.parametrize("change", [{"frames": 1}, {"mode": "spin"}, {"drift": 0},
                                    {"crossfade": -1}, {"frames": True}])
def test_impossible_flipbook_settings_are_refused(change):
    with pytest.raises(ConfigError):
        dataclasses.replace(FlipbookSettings(), **change).validate()


def test_a_variation_is_nearer_its_source_than_another_picture(picture, tmp_path):
    """True to the source: the patch distributions (sliced Wasserstein)."""
    from engine.metrics.patch_distribution import patch_swd

    other = blobs(seed=5)[..., ::-1].copy()          # other colours and places
    [v] = made(variations(load_source(picture), [3], settings=FAST))
    assert patch_swd(v.image, blobs()) < patch_swd(v.image, other) / 2


def test_auto_makes_pictures_on_a_cuda_gpu_else_the_cpu_never_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert remix.remix_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert remix.remix_device("auto").type == "cuda"
    assert remix.remix_device("cpu").type == "cpu"
