"""Training throughput of a model on the same code path `train` uses."""
from __future__ import annotations

import sys
import time
from typing import Any

import torch

from engine.runtime.cpu_threads import cpu_threads
from engine.models import model_spec
from engine.training import TrainConfig, TrainingSession


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def bench(config: TrainConfig, steps: int = 20, warmup: int = 3,
          sample_count: int = 16) -> dict[str, Any]:
    """Images/s over `steps` timed training steps after `warmup` untimed ones, and
    the sampling rate of one batch of `sample_count` seeds (0: skip)."""
    with cpu_threads(config.threads):
        return _bench(config, steps, warmup, sample_count)


def _bench(config: TrainConfig, steps: int, warmup: int, sample_count: int) -> dict[str, Any]:
    session = TrainingSession(config)
    device = session.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(warmup):
        session.step()
    _sync(device)
    # With --compile the first steps include compiling the networks.
    warmup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        session.step()
    _sync(device)
    seconds = time.perf_counter() - start
    batch = session.batcher.batch_size
    result: dict[str, Any] = {
        "model": config.model, "image_size": config.image_size,
        # Width only shapes convolutional models; the MLP ignores it.
        "width": session.model_config.to_dict().get("width")
        if model_spec(config.model).takes_width else None,
        "batch_size": batch,
        "device": str(device), "torch_threads": torch.get_num_threads(), "steps": steps,
        "seconds": seconds, "images_per_second": steps * batch / seconds,
        "warmup_seconds": warmup_seconds, "precision": session.precision,
        "compiled": session.compiled is not None and session.compiled.active,
        "parameters": session.model.parameter_count(),
    }
    result.update(_sampling(session, sample_count))
    if session.data.frames:   # sequence models: a training item is a whole sequence
        result["frames_per_second"] = result["images_per_second"] * session.data.frames
    if device.type == "cuda":
        result["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        result["peak_memory_kind"] = "cuda allocated"
    else:
        result["peak_memory_mb"] = _peak_rss_mb()
        result["peak_memory_kind"] = "process max RSS"
    return result


def _sampling(session: TrainingSession, count: int) -> dict[str, Any]:
    """Sampling throughput, the way the gallery samples (one batch of seeds)."""
    if count < 1:
        return {}
    seeds = list(range(count))
    session.model.sample(seeds[:2])   # warm-up: first-call allocations and kernel choice
    _sync(session.device)
    start = time.perf_counter()
    session.model.sample(seeds)
    _sync(session.device)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {"sample_count": count, "sample_seconds": seconds,
                              "sample_images_per_second": count / seconds}
    future = getattr(session.model.config, "future_frames", None)
    if future:   # a next-frame model's sample is a rollout of `future` frames
        result["sample_frames_per_second"] = count * future / seconds
    return result


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows has no resource module
        return None
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)
