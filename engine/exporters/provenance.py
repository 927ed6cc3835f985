"""Reading provenance back from an exported file: which run, which seeds, and the
keyframe timeline that re-renders the same frames."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from engine.errors import ConfigError, DataError
from engine.exporters.common import PROVENANCE_KEY
from engine.exporters.webp import EXIF_IMAGE_DESCRIPTION
from engine.keyframes import Timeline


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
        from engine.exporters.mp4 import mp4_comment
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


def _parse(text: str | bytes | None, path: Path) -> dict[str, Any]:
    if not text:
        raise DataError(f"{path}: carries no Latent Atelier metadata (was it exported by the app?)")
    try:
        info = json.loads(text)
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
    try:
        if "timeline" in info:
            return Timeline.from_dict(info["timeline"]), info
        if info.get("kind") == "morph":
            raise DataError(f"{Path(path).name}: has no keyframe seeds (it is a reconstruction morph "
                            f"of {', '.join(map(str, info.get('inputs', [])))}; re-render it with "
                            "animate --kind morph --input those pictures)")
        if info.get("kind") == "process":
            seed = (info.get("seeds") or [0])[0]
            raise DataError(f"{Path(path).name}: has no keyframes (it is the model's "
                            f"{info.get('process', 'process')} for seed {seed}; re-render it with "
                            f"animate --kind process --seed {seed})")
        seeds = info.get("seeds") or ([info["seed"]] if "seed" in info else [])
        if info.get("kind") == "timelapse" or not seeds:
            raise DataError(f"{Path(path).name}: has no keyframes (it is "
                            f"{'a training time-lapse' if info.get('kind') == 'timelapse' else 'not a latent walk'})")
        if len(seeds) == 1:
            seeds = seeds * 2  # a lone tile becomes a walk that starts and ends on it
        return Timeline.from_seeds([int(s) for s in seeds]), info
    except ConfigError as exc:
        raise DataError(f"{path}: its keyframes are not valid ({exc})") from None
