"""Reading provenance back from an exported file: which run, which seeds, and the
keyframe timeline that re-renders the same frames."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from engine.storage import safe_json
from engine.errors import ConfigError, DataError
from engine.media.png import PROVENANCE_KEY
from engine.studio.exporters.webp import EXIF_IMAGE_DESCRIPTION
from engine.studio.keyframes import Timeline


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance an export carries: PNG/APNG text chunk, GIF comment, WebP EXIF,
    MP4 comment, or the first frame of a frame-sequence folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        frames = sorted(path.glob("frame_*.png"))
        if not frames:
            raise DataError(f"{path}: no frame_*.png files, so not an exported frame sequence")
        path = frames[0]
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in (".mp4", ".m4v", ".mov"):
        from engine.studio.exporters.mp4 import mp4_comment
        return _parse(mp4_comment(path), path)
    try:
        with Image.open(path) as picture:
            if picture.format == "PNG":
                text = picture.text.get(PROVENANCE_KEY)
            elif picture.format == "GIF":
                comment = picture.info.get("comment")
                text = comment.decode("utf-8", errors="replace") if comment else None
            elif picture.format == "WEBP":
                text = picture.getexif().get(EXIF_IMAGE_DESCRIPTION)
            else:
                text = None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    return _parse(text, path)


class NoKeyframesError(DataError):
    """An export that carries provenance but is no latent walk (a time-lapse, a
    morph, a process): nothing wrong with the file, there are just no keyframes."""


def _parse(text: str | bytes | None, path: Path) -> dict[str, Any]:
    if not text:
        raise DataError(f"{path}: carries no Latent Atelier metadata (was it exported by the app?)")
    try:
        info = safe_json.loads(text)
    except safe_json.JsonTooDeepError as exc:   # anybody can write a comment into a GIF
        raise DataError(f"{path}: its Latent Atelier metadata is damaged ({exc})") from None
    except ValueError:
        raise DataError(f"{path}: its Latent Atelier metadata is damaged") from None
    if not isinstance(info, dict):
        raise DataError(f"{path}: its Latent Atelier metadata is damaged")
    return info


def read_timeline(path: str | Path) -> tuple[Timeline, dict[str, Any]]:
    """(keyframe timeline, provenance) of an exported latent walk or a saved tile.

    A walk gives its whole timeline back; a still tile (or grid) gives its seeds
    as keyframes with the default settings, ready to build a walk from.
    """
    info = read_provenance(path)
    name = Path(path).name
    try:
        if "timeline" in info:
            return Timeline.from_dict(info["timeline"]), info
        if info.get("kind") == "morph":
            raise NoKeyframesError(f"{name}: has no keyframe seeds (it is a reconstruction morph "
                                   f"of {_names(info.get('inputs'))}; re-render it with "
                                   "animate --kind morph --input those pictures)")
        if info.get("kind") == "process":
            seeds = _seeds(info.get("seeds"))
            seed = seeds[0] if seeds else 0
            raise NoKeyframesError(f"{name}: has no keyframes (it is the model's "
                                   f"{_short(info.get('process', 'process'))} for seed {seed}; "
                                   f"re-render it with animate --kind process --seed {seed})")
        if info.get("kind") == "timelapse":
            raise NoKeyframesError(f"{name}: has no keyframes (it is a training time-lapse)")
        if info.get("kind") in ("remix", "flipbook"):
            seed = info.get("seed", 0)
            raise NoKeyframesError(f"{name}: has no keyframes (it was made from the picture "
                                   f"{_short(str(info.get('source', '?')))} without a model; make "
                                   f"it again with the same picture, settings and seed {_short(str(seed))})")
        seeds = _seeds(info.get("seeds")) or (_seeds([info["seed"]]) if "seed" in info else [])
        if not seeds:
            raise NoKeyframesError(f"{name}: has no keyframes (it is not a latent walk)")
        if len(seeds) == 1:
            seeds = seeds * 2  # a lone tile becomes a walk that starts and ends on it
        return Timeline.from_seeds(seeds), info
    except ConfigError as exc:
        raise DataError(f"{path}: its keyframes are not valid ({exc})") from None


def _seeds(values: Any) -> list[int]:
    """Seeds as saved: a list of whole numbers (the range is Timeline's to check)."""
    if values is None:
        return []
    if not isinstance(values, list) or not all(safe_json.is_whole_number(v)
                                               for v in values):
        raise ConfigError(f"seeds must be a list of whole numbers, not {_short(repr(values))}")
    return values


def _names(values: Any) -> str:
    if not isinstance(values, list):
        return "unnamed pictures"
    return ", ".join(_short(v, 80) for v in values[:10]) + (" ..." if len(values) > 10 else "")


def _short(value: Any, limit: int = 60) -> str:
    """A value from a file's metadata, shortened to fit in one line."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
