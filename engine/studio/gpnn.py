"""Patch nearest neighbours from one picture, coarse to fine (GPNN).

Granot et al., "Drop the GAN: In Defense of Patches Nearest Neighbors as Single
Image Generative Models", CVPR 2022. No training: a new picture is assembled
from the source's own patches.

- A Gaussian pyramid of the source: each level `scale_factor` of the next
  finer one, down to a coarsest level whose shorter side is `coarsest_side`.
- The output starts at the coarsest level as the source plus noise of
  standard deviation `diversity` (the noise is what makes each seed's picture
  different); with noise, the source there is first blurred to a quarter of
  its size (START_BLUR), so it keeps its layout of colours but the noise
  decides where shapes go. Some noise lets the coarsest level settle back on
  the source in place (every finer level would then copy it): when less than
  COPY_LIMIT of it moved, it starts again from the seed's next noise, at most
  COPY_REDRAWS times. When the output's shape differs, the coarsest
  level changes shape in gradual steps (GPNN's retargeting), matching at
  each, so the content rearranges to fit instead of being stretched.
- At each level, `iterations` rounds of patch matching: every patch of the
  current output (the query) is replaced by the source patch whose key is
  nearest, and the overlapping replacements are averaged (folded) into the
  new output. Keys and queries are both blurred the same way (down to the
  coarser level's size and back), so a blurry upsampled output is matched
  against equally blurry source patches, and the sharp source patch is what
  gets pasted. GPNN's completeness normalisation divides each distance by
  `alpha` plus that key's distance to its own nearest query, so source
  patches no query is close to still get used: the output keeps all of the
  source, not just its most common patch.
- The finished level is enlarged to the next one's size and the next level
  starts from it; the finest level's output is the picture.

Nearest neighbours are exact: chunked matrix products over all query and key
pairs, while a level has at most `exact_pairs` of them. Finer levels have
too many pairs for a CPU (a 256 x 256 picture has 3.9 billion per round), so
there each query searches only a window of `window` pixels around where the
coarser level's match points, plus the matches of its four neighbours moved
by one pixel (PatchMatch's propagation), comparing the patches' projections
on the keys' first `components` principal components, with the completeness
term taken over the queries that saw each key. docs/BENCHMARKS.md has the
measurements behind this choice (the exact search everywhere took 60 times
as long for the same patch statistics). A level stops early once no match changes (the output
would not change again).

`tile=True` makes the output periodic: its patches wrap around its edges, so
the picture repeats without a seam. Everything runs on the device of the
source tensor; the noise comes from the caller's torch.Generator (drawn on the
CPU), so the same seed gives the same picture.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Generator
from typing import Any

import torch
import torch.nn.functional as F

from engine.errors import ConfigError
from engine.runtime.control import RunControl

# Bytes of distance matrix held at once by the exact search (a chunk of queries
# against every key); larger levels are chunked.
CHUNK_BYTES = 64 * 2**20
RETARGET_STEP = 1.15     # the coarsest level changes shape by at most this factor per step
START_BLUR = 0.25        # with noise, the coarsest start is seen at this fraction of its size
DRIFT_BLUR = 0.5         # and a given start (a flip-book's previous frame) at this fraction
COPY_LIMIT = 0.75        # a coarsest level with less of it moved than this is started again
COPY_REDRAWS = 3         # at most this many times, each with the seed's next noise


class SynthesisStopped(Exception):
    """The RunControl asked to stop; nothing was made."""


@dataclasses.dataclass(frozen=True)
class GpnnSettings:
    """How a picture is made. Defaults follow GPNN (patch 7, pyramid factor 0.75,
    alpha 0.005, 10 rounds, noise 0.75) where a CPU allows it."""

    patch_size: int = 7          # side of the square patches (odd)
    scale_factor: float = 0.75   # each level's side relative to the next finer one
    coarsest_side: int = 16      # shorter side of the coarsest source level, pixels
    diversity: float = 0.75      # noise std at the coarsest level, in [-1, 1] pixel units
    alpha: float = 0.005         # completeness; 0 turns it off (plain nearest neighbours)
    iterations: int = 10         # rounds at each exactly searched level
    refine_iterations: int = 2   # rounds at each window-searched (finer) level
    window: int = 2              # window search radius, pixels
    components: int = 16         # principal components the window search compares
    exact_pairs: int = 8_000_000  # levels with more query x key pairs search a window

    def validate(self) -> None:
        def whole(name: str, low: int, high: int) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number from {low} "
                                  f"to {high}, not {value!r}")
            return value

        def number(name: str, low: float, high: float) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(f"{name.replace('_', ' ')} must be a number from {low:g} "
                                  f"to {high:g}, not {value!r}")
            return float(value)

        if whole("patch_size", 3, 15) % 2 == 0:
            raise ConfigError(f"patch size must be odd, not {self.patch_size}")
        number("scale_factor", 0.5, 0.9)
        whole("coarsest_side", self.patch_size, 256)
        number("diversity", 0.0, 3.0)
        number("alpha", 0.0, 10.0)
        whole("iterations", 1, 50)
        whole("refine_iterations", 1, 50)
        whole("window", 1, 8)
        whole("components", 1, 3 * 15 * 15)
        whole("exact_pairs", 1, 10**12)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "GpnnSettings":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(names))}")
        settings = cls(**values)
        settings.validate()
        return settings


@dataclasses.dataclass(frozen=True)
class Level:
    source: tuple[int, int]      # (height, width) of the source at this level
    output: tuple[int, int]      # (height, width) of the output at this level


@dataclasses.dataclass
class Synthesis:
    """A made picture and how: the image, each output patch's source position
    at the finest level, and the time each level took."""

    image: torch.Tensor          # (C, H, W) in [0, 1], on the source's device
    matches: torch.Tensor        # (Hq, Wq, 2) long: (y, x) of each output patch's source patch
    level_seconds: list[float]
    levels: list[Level]


def moved_share(matches: torch.Tensor, source_hw: tuple[int, int], output_hw: tuple[int, int],
                patch: int) -> float:
    """How much of a picture is not its source in place: the share of output
    patches whose source position (`matches`, (Hq, Wq, 2) of (y, x)) is more
    than `patch` pixels from their own position, scaled to the source's frame
    when the sizes differ. A copy of the source scores 0."""
    m = matches.detach().float().cpu()
    hq, wq = m.shape[:2]
    ys = torch.arange(hq, dtype=torch.float32)[:, None] * (source_hw[0] / output_hw[0])
    xs = torch.arange(wq, dtype=torch.float32)[None, :] * (source_hw[1] / output_hw[1])
    distance = torch.sqrt((m[..., 0] - ys) ** 2 + (m[..., 1] - xs) ** 2)
    return float((distance > patch).float().mean())


def pyramid(source_hw: tuple[int, int], output_hw: tuple[int, int],
            settings: GpnnSettings) -> list[Level]:
    """The levels, coarsest first: every level scales source and output alike,
    down to where the source's shorter side reaches `coarsest_side` (or the
    output's reaches the patch size, whichever comes first)."""
    p = settings.patch_size
    for name, (h, w) in (("source", source_hw), ("output", output_hw)):
        if min(h, w) < p:
            raise ConfigError(f"the {name} is {w} x {h} pixels; both sides must be at least "
                              f"the patch size ({p})")
    levels = [Level(tuple(source_hw), tuple(output_hw))]
    k = 1
    while True:
        s = settings.scale_factor ** k
        src = (round(source_hw[0] * s), round(source_hw[1] * s))
        out = (round(output_hw[0] * s), round(output_hw[1] * s))
        if min(src) < settings.coarsest_side or min(out) < p:
            break
        levels.append(Level(src, out))
        k += 1
    return levels[::-1]


def pair_counts(levels: list[Level], patch_size: int, tile: bool) -> list[int]:
    """Query x key pairs of an exact search at each level."""
    return [_patch_count(lv.output, patch_size, tile) * _patch_count(lv.source, patch_size, False)
            for lv in levels]


def _patch_count(hw: tuple[int, int], p: int, wrap: bool) -> int:
    h, w = hw
    return h * w if wrap else (h - p + 1) * (w - p + 1)


def _resize(image: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) -> (C, h, w), antialiased when shrinking."""
    if tuple(image.shape[-2:]) == tuple(hw):
        return image
    shrink = hw[0] < image.shape[-2] or hw[1] < image.shape[-1]
    return F.interpolate(image[None], size=hw, mode="bilinear", align_corners=False,
                         antialias=shrink)[0]


def _blur(image: torch.Tensor, coarse_hw: tuple[int, int] | None) -> torch.Tensor:
    """What the coarser level sees of `image`: down to its size and back up."""
    if coarse_hw is None:
        return image
    return _resize(_resize(image, coarse_hw), tuple(image.shape[-2:]))


def _patches(image: torch.Tensor, p: int, wrap: bool) -> torch.Tensor:
    """(C, H, W) -> (C*p*p, L): every p x p patch as a column, row by row; with
    wrap, one per pixel, reaching round the right and bottom edges."""
    if wrap:
        image = F.pad(image[None], (0, p - 1, 0, p - 1), mode="circular")[0]
    return F.unfold(image[None], p)[0]


def _fold(columns: torch.Tensor, hw: tuple[int, int], p: int, wrap: bool) -> torch.Tensor:
    """Average overlapping patches (C*p*p, L) back into a (C, H, W) picture."""
    h, w = hw
    cols = columns[None]
    if not wrap:
        total = F.fold(cols, hw, p)[0]
        ones = torch.ones((1, p * p, cols.shape[-1]), device=columns.device, dtype=columns.dtype)
        return total / F.fold(ones, hw, p)[0]
    canvas = F.fold(cols, (h + p - 1, w + p - 1), p)[0]
    # What fell beyond the right and bottom edges belongs at the left and top.
    canvas[:, :, :p - 1] += canvas[:, :, w:]
    canvas[:, :p - 1, :] += canvas[:, h:, :]
    return canvas[:, :h, :w] / (p * p)


class _Search:
    """Nearest keys for queries, with GPNN's completeness normalisation."""

    def __init__(self, keys: torch.Tensor, key_grid: tuple[int, int], alpha: float,
                 control: RunControl | None, components: int | None = None) -> None:
        self.dims = keys.shape[1]        # distances are means over the full patch
        self.basis: torch.Tensor | None = None
        self.centre: torch.Tensor | None = None
        if components is not None and components < self.dims:
            # The window search compares projections on the keys' principal
            # components: the few directions that hold nearly all of their variance.
            self.centre = keys.mean(0)
            centred = keys - self.centre
            _, vectors = torch.linalg.eigh(centred.T @ centred)
            self.basis = vectors[:, -components:].contiguous()
            keys = centred @ self.basis
        self.keys = keys
        self.key_norms = (keys * keys).sum(1)
        self.key_grid = key_grid
        self.alpha = alpha
        self.control = control

    def project(self, queries: torch.Tensor) -> torch.Tensor:
        if self.basis is None:
            return queries
        return (queries - self.centre) @ self.basis

    def _check(self) -> None:
        if self.control is not None and self.control.stopped:
            raise SynthesisStopped()

    def exact(self, queries: torch.Tensor) -> torch.Tensor:
        """Index of the nearest key (normalised) for every query, over all pairs."""
        nq, nk = len(queries), len(self.keys)
        rows = max(1, CHUNK_BYTES // (4 * nk))
        q_norms = (queries * queries).sum(1)
        if nq <= rows:   # the whole matrix fits: one product, two reductions
            d = self._distances(queries, q_norms)
            if self.alpha > 0:
                d /= self.alpha + d.amin(0)
            return d.argmin(1)
        scale = None
        if self.alpha > 0:
            column_min = torch.full((nk,), math.inf, device=queries.device)
            for start in range(0, nq, rows):
                self._check()
                d = self._distances(queries[start:start + rows], q_norms[start:start + rows])
                column_min = torch.minimum(column_min, d.amin(0))
            scale = 1.0 / (self.alpha + column_min)
        best = torch.empty(nq, dtype=torch.long, device=queries.device)
        for start in range(0, nq, rows):
            self._check()
            d = self._distances(queries[start:start + rows], q_norms[start:start + rows])
            if scale is not None:
                d *= scale
            best[start:start + rows] = d.argmin(1)
        return best

    def _distances(self, queries: torch.Tensor, q_norms: torch.Tensor) -> torch.Tensor:
        """Mean squared differences (queries x keys), as GPNN's alpha expects."""
        d = torch.addmm(self.key_norms[None], queries, self.keys.T, alpha=-2.0)
        d += q_norms[:, None]
        return d.clamp_(min=0).mul_(1.0 / self.dims)

    def window(self, queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Index of the nearest key among each query's candidates (Nq, M)."""
        queries = self.project(queries)
        nq, m = candidates.shape
        rows = max(1, CHUNK_BYTES // (4 * m * queries.shape[1]))
        d = torch.empty((nq, m), device=queries.device)
        q_norms = (queries * queries).sum(1)
        for start in range(0, nq, rows):
            self._check()
            idx = candidates[start:start + rows]
            chunk = queries[start:start + rows]
            # |k - q|^2 = |k|^2 - 2 k.q + |q|^2, the products batched per query
            dots = torch.bmm(self.keys[idx], chunk[:, :, None])[..., 0]     # (n, M)
            d[start:start + rows] = torch.addcmul(self.key_norms[idx], dots, dots.new_tensor(-2.0)) \
                .add_(q_norms[start:start + rows, None])
        d.clamp_(min=0).mul_(1.0 / self.dims)
        if self.alpha > 0:
            column_min = torch.full((len(self.keys),), math.inf, device=queries.device)
            column_min.scatter_reduce_(0, candidates.reshape(-1), d.reshape(-1), "amin")
            d /= self.alpha + column_min[candidates]
        choice = d.argmin(1, keepdim=True)
        return candidates.gather(1, choice)[:, 0]


def _candidates(matches: torch.Tensor, key_grid: tuple[int, int], radius: int,
                wrap: bool) -> torch.Tensor:
    """(Hq, Wq, 2) key positions -> (Hq*Wq, M) key indices to try: a window
    round each query's own match and its four neighbours' matches shifted to it."""
    hk, wk = key_grid
    device = matches.device
    r = torch.arange(-radius, radius + 1, device=device)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    ys = matches[..., 0:1] + dy.reshape(1, 1, -1)
    xs = matches[..., 1:2] + dx.reshape(1, 1, -1)
    neighbours = []
    for shift_y, shift_x in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        # The neighbour at (y - shift_y, x - shift_x) matched m; here that is m + shift.
        moved = torch.roll(matches, shifts=(shift_y, shift_x), dims=(0, 1))
        moved = moved + torch.tensor([shift_y, shift_x], device=device)
        if not wrap:
            # Rows and columns rolled in from the far edge are not neighbours.
            edge = matches
            if shift_y == 1:
                moved[0] = edge[0]
            elif shift_y == -1:
                moved[-1] = edge[-1]
            elif shift_x == 1:
                moved[:, 0] = edge[:, 0]
            else:
                moved[:, -1] = edge[:, -1]
        neighbours.append(moved)
    ys = torch.cat([ys] + [n[..., 0:1] for n in neighbours], dim=2).clamp_(0, hk - 1)
    xs = torch.cat([xs] + [n[..., 1:2] for n in neighbours], dim=2).clamp_(0, wk - 1)
    return (ys * wk + xs).reshape(-1, ys.shape[-1])


def _carry_matches(matches: torch.Tensor, new_query_grid: tuple[int, int],
                   ratio: tuple[float, float], key_grid: tuple[int, int]) -> torch.Tensor:
    """A coarser level's matches, as starting guesses on the finer level's query
    grid: each query takes the offset (match - position) of the coarse query it
    falls on, enlarged by the level ratio."""
    hq, wq = new_query_grid
    device = matches.device
    chq, cwq = matches.shape[:2]
    ys = torch.arange(hq, device=device, dtype=torch.float32)
    xs = torch.arange(wq, device=device, dtype=torch.float32)
    cy = (ys / ratio[0]).round().long().clamp_(0, chq - 1)
    cx = (xs / ratio[1]).round().long().clamp_(0, cwq - 1)
    coarse = matches[cy][:, cx].float()                               # (hq, wq, 2)
    offset_y = (coarse[..., 0] - cy[:, None].float()) * ratio[0]
    offset_x = (coarse[..., 1] - cx[None, :].float()) * ratio[1]
    new_y = (ys[:, None] + offset_y).round().long().clamp_(0, key_grid[0] - 1)
    new_x = (xs[None, :] + offset_x).round().long().clamp_(0, key_grid[1] - 1)
    return torch.stack([new_y, new_x], dim=-1)


def noise_shape(source_hw: tuple[int, int], output_hw: tuple[int, int], settings: GpnnSettings,
                channels: int) -> tuple[int, int, int]:
    """The shape (C, h, w) of the noise a picture starts from (`synthesize`'s `noise`)."""
    levels = pyramid(source_hw, output_hw, settings)
    return (channels, *_coarsest_steps(levels[0].source, levels[0].output)[0])


def synthesis_rounds(source: torch.Tensor, output_hw: tuple[int, int], settings: GpnnSettings,
                     generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
                     tile: bool = False, start: torch.Tensor | None = None,
                     control: RunControl | None = None
                     ) -> Generator[tuple[int, int], None, Synthesis]:
    """One picture of `output_hw` (height, width) from `source` ((C, H, W) in
    [0, 1], on any device), as a generator: it yields (rounds done, rounds in
    all) after every round and returns the Synthesis.

    The starting noise is drawn from `generator` (on the CPU, so a seed gives
    the same noise on every device) or given as `noise` (noise_shape(), unit
    variance: a flip-book's walk through noise). `start` ((C, h, w) in [0, 1])
    replaces the source as the coarsest level's starting picture (a flip-book's
    previous frame; blurred less than the source, DRIFT_BLUR). A stopped `control` raises SynthesisStopped
    between rounds and between chunks of a round."""
    settings.validate()
    levels = pyramid(tuple(source.shape[-2:]), tuple(output_hw), settings)
    shape = noise_shape(tuple(source.shape[-2:]), tuple(output_hw), settings, source.shape[0])
    redraw = None
    if noise is None:
        if generator is None:
            raise ValueError("a synthesis needs a generator or the noise")
        noise = torch.randn(shape, generator=generator)
        redraw = lambda: torch.randn(shape, generator=generator)  # noqa: E731 - the seed's next noise
    elif tuple(noise.shape) != shape:
        raise ValueError(f"noise must have shape {shape}, not {tuple(noise.shape)}")
    return (yield from _Synthesizer(source, levels, settings, tile, control, redraw)
            .rounds(noise, start))


def synthesize(source: torch.Tensor, output_hw: tuple[int, int], settings: GpnnSettings,
               generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
               tile: bool = False, start: torch.Tensor | None = None,
               control: RunControl | None = None) -> Synthesis:
    """synthesis_rounds() run to the end: the Synthesis."""
    rounds = synthesis_rounds(source, output_hw, settings, generator, noise, tile, start, control)
    while True:
        try:
            next(rounds)
        except StopIteration as finished:
            return finished.value


class _Synthesizer:
    """One picture, level by level (see the module's docstring)."""

    def __init__(self, source: torch.Tensor, levels: list[Level], settings: GpnnSettings,
                 tile: bool, control: RunControl | None,
                 redraw: Callable[[], torch.Tensor] | None) -> None:
        self.settings, self.levels, self.tile, self.control = settings, levels, tile, control
        self.redraw = redraw
        self.p = settings.patch_size
        x = source.float() * 2 - 1
        self.device = x.device
        self.sources = [_resize(x, lv.source) for lv in levels]
        pairs = pair_counts(levels, self.p, tile)
        # The coarsest level always searches everything: it decides the layout.
        self.exact = [k == 0 or n <= settings.exact_pairs for k, n in enumerate(pairs)]
        self.steps = _coarsest_steps(levels[0].source, levels[0].output)
        self.total = settings.iterations * len(self.steps) + sum(
            settings.iterations if e else settings.refine_iterations for e in self.exact[1:])
        self.done = 0

    def _stop_if_asked(self) -> None:
        if self.control is not None and self.control.stopped:
            raise SynthesisStopped()

    def rounds(self, noise: torch.Tensor, start: torch.Tensor | None
               ) -> Generator[tuple[int, int], None, Synthesis]:
        settings = self.settings
        if start is not None:
            # A flip-book's previous frame, seen at half the coarsest size: sharp
            # enough that most of it stays, vague enough that the noise moves some.
            first = _resize(start.float().to(self.device) * 2 - 1, self.steps[0])
            if settings.diversity > 0:
                first = _blur(first, (max(1, round(first.shape[-2] * DRIFT_BLUR)),
                                      max(1, round(first.shape[-1] * DRIFT_BLUR))))
        else:
            first = self.sources[0]
            if settings.diversity > 0:
                # Noise moves things only where the start is vague: seen at a quarter
                # of its size, the coarsest source keeps its layout of colours, not its
                # shapes, so each seed arranges them anew.
                first = _blur(first, (max(1, round(first.shape[-2] * START_BLUR)),
                                      max(1, round(first.shape[-1] * START_BLUR))))
        base = _resize(first, self.steps[0])
        seconds = []
        began = time.perf_counter()
        for attempt in range(COPY_REDRAWS + 1):
            y, matches = yield from self._level(0, base + settings.diversity * noise.to(self.device),
                                                None)
            # Some noise lets the coarsest level settle back on the source in place,
            # and every finer level then copies it: such a start is drawn again.
            if self.redraw is None or settings.diversity == 0 or attempt == COPY_REDRAWS \
                    or self._coarse_moved(matches) >= COPY_LIMIT:
                break
            noise = self.redraw()
            self.total += settings.iterations * len(self.steps)
        seconds.append(time.perf_counter() - began)
        for k in range(1, len(self.levels)):
            began = time.perf_counter()
            y, matches = yield from self._level(k, y, matches)
            seconds.append(time.perf_counter() - began)
        return Synthesis(((y + 1) / 2).clamp_(0, 1), matches, seconds, self.levels)

    def _coarse_moved(self, matches: torch.Tensor) -> float:
        """moved_share at the coarsest level, the patch size scaled down to it."""
        level = self.levels[0]
        scale = level.source[0] / self.levels[-1].source[0]
        return moved_share(matches, level.source, self.steps[-1], max(1.0, self.p * scale))

    def _level(self, k: int, y: torch.Tensor, matches: torch.Tensor | None
               ) -> Generator[tuple[int, int], None, tuple[torch.Tensor, torch.Tensor]]:
        settings, p, level = self.settings, self.p, self.levels[k]
        values_image = self.sources[k]
        coarser = self.levels[k - 1] if k else None
        keys_image = _blur(values_image, coarser.source if coarser else None)
        key_grid = (level.source[0] - p + 1, level.source[1] - p + 1)
        values = _patches(values_image, p, False)            # (D, keys): what gets pasted
        exact = self.exact[k]
        search = _Search(_patches(keys_image, p, False).T, key_grid, settings.alpha, self.control,
                         None if exact else settings.components)
        rounds = settings.iterations if exact else settings.refine_iterations
        for shape in (self.steps if k == 0 else [level.output]):
            y = _resize(y, shape)
            query_grid = shape if self.tile else (shape[0] - p + 1, shape[1] - p + 1)
            if not exact:
                assert matches is not None and coarser is not None
                ratio = (level.source[0] / coarser.source[0], level.source[1] / coarser.source[1])
                matches = _carry_matches(matches, query_grid, ratio, key_grid)
            previous = None
            for done in range(1, rounds + 1):
                self._stop_if_asked()
                # (queries, D): a transposed view, which the matrix products take as it is
                queries = _patches(_blur(y, coarser.output if coarser else None), p, self.tile).T
                if exact:
                    best = search.exact(queries)
                else:
                    best = search.window(queries, _candidates(matches, key_grid, settings.window,
                                                              self.tile))
                y = _fold(values[:, best], shape, p, self.tile)
                matches = torch.stack([best // key_grid[1], best % key_grid[1]], -1) \
                    .reshape(*query_grid, 2)
                unchanged = previous is not None and torch.equal(previous, best)
                # Once nothing changes no later round would: the rest count as done.
                self.done += rounds - done + 1 if unchanged else 1
                yield self.done, self.total
                if unchanged:
                    break
                previous = best
        assert matches is not None
        return y, matches


def _coarsest_steps(source_hw: tuple[int, int], output_hw: tuple[int, int]) -> list[tuple[int, int]]:
    """Shapes from the source's coarsest level to the output's, each side
    changing by at most RETARGET_STEP per step (GPNN's gradual retargeting:
    the content rearranges a little at a time instead of being squashed)."""
    (sh, sw), (oh, ow) = source_hw, output_hw
    n = max(1, math.ceil(max(abs(math.log(oh / sh)), abs(math.log(ow / sw)))
                         / math.log(RETARGET_STEP)))
    return [(round(sh * (oh / sh) ** (i / n)), round(sw * (ow / sw) ** (i / n)))
            for i in range(1, n + 1)]
