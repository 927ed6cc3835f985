"""Latent Atelier's engine: data, models, training, sampling and export.

Pure Python + PyTorch + numpy. It never imports Qt or the desktop app, so
everything the GUI does can also be done headless through `engine.cli.main`.
"""
__version__ = "0.1.0"
