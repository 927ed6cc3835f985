"""Latent Atelier's PySide6 front end. It reaches the engine only through
`desktop_app.worker`, which owns every thread that runs engine work."""
