"""The data-spec registry: "kind" or "kind:PATH[?key=value&...]" -> a loader.

Every data source (bundled MNIST, IDX files, a folder of pictures, CIFAR-10,
an .npz file, image sequences) registers itself here with one call to
`register_source`, and the CLI and the GUI list what is registered. A loader
takes a `DataRequest` and returns an `ImageSet`, or is a generator that yields
`LoadProgress` events while it works and returns the `ImageSet` at the end (so
a long folder scan can drive a progress bar and be cancelled).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import DataError

if TYPE_CHECKING:
    from engine.data.sources import ImageSet


class LoadCancelled(DataError):
    """The caller asked the load to stop (the user pressed Cancel)."""


@dataclass(frozen=True)
class LoadProgress:
    """Plain-data progress of a long load: `done` of `total` files decoded."""

    done: int
    total: int
    stage: str = "decoding"


@dataclass(frozen=True)
class DataRequest:
    """What a loader is asked for.

    `size` is the side the model trains at: sources of arbitrary pictures decode
    to it (fixed-size sources such as CIFAR-10 ignore it; batches are resized on
    the device). `options` are the spec's `?key=value` pairs, already checked
    against the keys the source declared. `cancel()` is polled between files.
    """

    spec: str
    path: Path | None
    split: str = "train"
    size: int = 64
    options: dict[str, str] = field(default_factory=dict)
    cache: bool = True
    cancel: Callable[[], bool] = lambda: False

    def check_cancel(self) -> None:
        if self.cancel():
            raise LoadCancelled(f"loading {self.spec} was cancelled")


Loader = Callable[[DataRequest], "ImageSet | Generator[LoadProgress, None, ImageSet]"]


@dataclass(frozen=True)
class DataSource:
    name: str
    load: Loader
    description: str
    takes_path: bool
    options: tuple[str, ...] = ()

    @property
    def spec_form(self) -> str:
        return f"{self.name}:PATH" if self.takes_path else self.name


_SOURCES: dict[str, DataSource] = {}
# Spec form -> one-line description, in registration order; the CLI's help and
# the GUI's source list read this.
DATA_SOURCES: dict[str, str] = {}


def register_source(name: str, load: Loader, description: str, *, takes_path: bool = True,
                    options: tuple[str, ...] = ()) -> None:
    """Make `name` (or `name:PATH` when takes_path) a data spec everywhere."""
    if name in _SOURCES:
        raise ValueError(f"data source {name!r} is registered twice")
    source = DataSource(name, load, description, takes_path, tuple(options))
    _SOURCES[name] = source
    DATA_SOURCES[source.spec_form] = description


def sources() -> list[DataSource]:
    return list(_SOURCES.values())


def parse_spec(spec: str) -> tuple[DataSource, Path | None, dict[str, str]]:
    """Split a spec into its source, path and options; DataError if it is not valid."""
    spec = (spec or "").strip()
    known = ", ".join(DATA_SOURCES)
    name, colon, rest = spec.partition(":")
    bare_name, question, _ = name.partition("?")   # "moving-mnist?seed=3": options, no path
    source = _SOURCES.get(bare_name if not colon else name)
    if source is None or (colon and not source.takes_path):
        raise DataError(f"unknown data spec {spec!r}; known: {known}")
    if source.takes_path and not rest.strip():
        raise DataError(f"unknown data spec {spec!r}: {name} needs a path ({name}:PATH); "
                        f"known: {known}")
    if not source.takes_path:
        _, options = _split_options(name, source) if question else ("", {})
        return source, None, options
    path_text, options = _split_options(rest, source)
    return source, Path(path_text).expanduser(), options


def _split_options(rest: str, source: DataSource) -> tuple[str, dict[str, str]]:
    # "PATH?key=value&key=value". A "?" only starts options when what follows
    # is key=value pairs, so a file name containing "?" still works.
    path_text, question, query = rest.rpartition("?")
    if not question or "=" not in query:
        return rest, {}
    options: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if key not in source.options:
            allowed = ", ".join(source.options) or "none"
            raise DataError(f"{source.name}: unknown option {key!r} in the data spec "
                            f"(options: {allowed})")
        options[key] = value
    return path_text, options


def load_steps(spec: str, split: str = "train", size: int = 64, cache: bool = True,
               cancel: Callable[[], bool] | None = None
               ) -> Generator[LoadProgress, None, "ImageSet"]:
    """Load a spec, yielding LoadProgress while it works; returns the ImageSet."""
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    source, path, options = parse_spec(spec)
    request = DataRequest(spec=spec.strip(), path=path, split=split, size=size, options=options,
                          cache=cache, cancel=cancel or (lambda: False))
    started = time.perf_counter()
    result: Any = source.load(request)
    if isinstance(result, Iterator):
        result = yield from result
    if result.report is not None:
        result = replace(result, report=replace(result.report,
                                                seconds=time.perf_counter() - started))
    return result


def load_data(spec: str, split: str = "train", size: int = 64, cache: bool = True,
              cancel: Callable[[], bool] | None = None,
              progress: Callable[[LoadProgress], None] | None = None) -> "ImageSet":
    """Load the data set a spec names. split is "train" or "test"; `size` is the
    side that sources of arbitrary pictures decode to."""
    steps = load_steps(spec, split, size, cache, cancel)
    while True:
        try:
            event = next(steps)
        except StopIteration as done:
            return done.value
        if progress is not None:
            progress(event)
