"""Colours and sizes: high contrast, large text, touch targets of at least 15 mm.

Sizes are pixels at the panel's scale. ``TARGET`` is the smallest side of anything
touchable: 96 px is 15 mm on a panel of up to 162 dpi (the 10.1" 1280x800 counter screens
are about 150 dpi, the 7" 800x480 Pi display 133 dpi). Large-text mode multiplies every
font size by ``LARGE``; screens are rebuilt when it changes, nothing is redrawn per frame.
"""

from __future__ import annotations

TARGET = 96
LARGE = 1.3

# White on these background colours is at least 4.5:1 (WCAG AA); yellow marks what matters.
BG = (0.04, 0.10, 0.22, 1)          # deep navy
PANEL = (0.09, 0.18, 0.35, 1)
TEXT = (1, 1, 1, 1)
MUTED = (0.85, 0.89, 0.95, 1)
ACCENT = (1.0, 0.84, 0.0, 1)        # yellow: numbers, notices
PRIMARY = (0.08, 0.40, 0.75, 1)     # blue buttons
GOOD = (0.11, 0.45, 0.20, 1)
WARN = (0.60, 0.38, 0.0, 1)
BAD = (0.72, 0.11, 0.11, 1)
BAD_TEXT = (1.0, 0.55, 0.50, 1)     # red text on navy (5:1): urgent notices
DARK_TEXT = (0.05, 0.05, 0.05, 1)

RATING_COLOURS = {
    "very_satisfied": (0.07, 0.42, 0.18, 1),
    "satisfied": (0.18, 0.49, 0.20, 1),
    "basic": (0.45, 0.38, 0.0, 1),
    "unsatisfied": (0.70, 0.30, 0.0, 1),
    "very_unsatisfied": (0.72, 0.11, 0.11, 1),
}

_scale = 1.0


def set_large(large: bool) -> None:
    global _scale
    _scale = LARGE if large else 1.0


def is_large() -> bool:
    return _scale != 1.0


def fs(base: float) -> float:
    """A font size in pixels for ``base`` at the current text mode."""
    return round(base * _scale)
