"""Data sources: every data set becomes an `ImageSet` of uint8 images."""
from engine.data.sources import DATA_SOURCES, ImageSet, load_data

__all__ = ["DATA_SOURCES", "ImageSet", "load_data"]
