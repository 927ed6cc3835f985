"""Widths for panels of pictures side by side, so each picture is enlarged by a
whole number (crisp pixels) and as large as the space allows.

The Train page's live grid is 226 pixels wide at 28 x 28. Left to share its
row evenly, its panel was some width between 1x and 2x of that, so the grid
was drawn either at an uneven scale (some pixel rows doubled, others not) or,
in whole steps, at 1x with the rest of the panel empty. Choosing the panel
widths from the pictures' whole-number sizes gives the room to the pictures
that can use it.
"""
from __future__ import annotations

from PySide6.QtCore import QSize


def picture_widths(pictures: list[QSize], budget: int, height: int, chrome: QSize) -> list[int]:
    """Panel widths for `pictures` shown side by side, as tall as can be.

    Each picture gets the largest whole-number scale that keeps it within one
    shared height; that height is the largest for which the panels (each
    picture plus `chrome`, the panel's frame and margins) fit in `budget`
    pixels of width, and the pictures within `height` (the panels' height,
    chrome included). When even 1x does not fit, every picture gets 1x.
    """
    if not pictures:
        return []
    room = height - chrome.height()
    candidates = sorted({p.height() * k for p in pictures if p.height() > 0
                         for k in range(1, max(1, room // p.height()) + 1)
                         if p.height() * k <= room}, reverse=True)
    for tallest in candidates:
        scales = [max(1, tallest // p.height()) if p.height() > 0 else 1 for p in pictures]
        widths = [p.width() * s + chrome.width() for p, s in zip(pictures, scales)]
        if sum(widths) <= budget:
            return widths
    return [p.width() + chrome.width() for p in pictures]
