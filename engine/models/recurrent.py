"""Small pieces the recurrent families share (now in engine.models.common)."""
from __future__ import annotations

from engine.models.common import adam, evaluating

__all__ = ["adam", "evaluating"]
