"""Data sources: every data set becomes an `ImageSet` of uint8 images.

Importing this package registers every source; a new source is one module that
calls `register_source` and one import line below.
"""
from engine.data.registry import DATA_SOURCES, LoadCancelled, LoadProgress, load_data, load_steps
from engine.data.sources import ImageSet
from engine.data import folder, cifar, npz, sequences  # noqa: F401,E402 - each registers its spec

__all__ = ["DATA_SOURCES", "ImageSet", "LoadCancelled", "LoadProgress", "load_data", "load_steps"]
