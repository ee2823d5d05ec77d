"""One line-breaking rule for Chinese text (禁则, kinsoku), for every label and slip.

Chinese may break between any two characters, with exceptions an elderly reader notices
at once; this module knows them, the screen (ui/widgets.py) and the printer use it:

* no line starts with closing punctuation (。，、；：？！）》” ...): it stays with the
  character before it; no line ends with opening punctuation (（《“ ...);
* a list marker ("• ", "1. ", "2、") never sits alone: it stays with the first
  character of its item;
* numbers, phone numbers and codes never break: ``0755-8000 0001``, ``12345``,
  ``A012``, ``9:00-12:00``, ``2026.11-default.1`` are one unit (digit groups joined by
  a single space are one phone number), and a number keeps its measure word (20元);
* Latin words break only at spaces;
* ``phrases=True`` (buttons, chips): a Chinese run breaks only at a space or after
  punctuation, never inside a word (损坏换/领); the caller shrinks the font until
  it fits (:func:`fit`) instead.

Kivy markup tags (``[b]``, ``[color=#fff]``, ``[font=...]``) are zero-width and stay with
the text they style. Pure Python: the caller passes ``measure(text) -> width``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Measure = Callable[[str], float]

CLOSING = frozenset("。，、；：？！）》」』】〉〕］｝”’…‥～%％,.;:!?)]}")
OPENING = frozenset("（《「『【〈〔［｛“‘([{")
# A number keeps the measure word right after it: 20元, 3人, 1号, 5个, 15分.
UNITS = frozenset("元角分秒时天日月年周岁人位号项份张个件次页米")
_MARKER = re.compile(r"^(?:[•·●○■□◆◇※▪\-–—]|\d{1,3}[.．、)）]|[(（]\d{1,3}[)）])[ \u3000]?")
# A number, code or phone: alphanumerics joined by - : . / _ + # @ (no spaces).
_CODE = re.compile(r"[0-9A-Za-z]+(?:[-:./_+#@~][0-9A-Za-z]+)*")
_TAG = re.compile(r"\[/?(?:b|i|u|s|font|size|color|ref|anchor|sub|sup|font_context|"
                  r"font_features|text_language|font_family)(?:=[^\]]*)?\]")
_SPACE = " \u3000\t"


@dataclass(frozen=True)
class Unit:
    """Text that is never broken; ``raw`` may hold markup, ``space`` marks a gap."""

    raw: str
    space: bool = False


def _atoms(text: str) -> list[tuple[str, str]]:
    """(kind, raw) pieces of one paragraph: tag, space, code, char."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        m = _TAG.match(text, i)
        if m:
            out.append(("tag", m.group()))
            i = m.end()
            continue
        ch = text[i]
        if ch in _SPACE:
            out.append(("space", ch))
            i += 1
            continue
        m = _CODE.match(text, i)
        if m:
            out.append(("code", m.group()))
            i = m.end()
            continue
        out.append(("char", ch))
        i += 1
    return out


def _join_phones(atoms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Digit groups separated by one space are one phone number: 0755-8000 0001."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(atoms):
        kind, raw = atoms[i]
        while (kind == "code" and raw[-1].isdigit() and i + 2 < len(atoms)
               and atoms[i + 1] == ("space", " ") and atoms[i + 2][0] == "code"
               and atoms[i + 2][1][0].isdigit() and len(raw) >= 3
               and len(atoms[i + 2][1]) >= 3):
            raw = raw + " " + atoms[i + 2][1]
            i += 2
        out.append((kind, raw))
        i += 1
    return out


def units(paragraph: str, *, phrases: bool = False) -> list[Unit]:
    """``paragraph`` (no newline) cut into the pieces a line may break between."""
    marker = _MARKER.match(paragraph)
    head = ""
    if marker and len(paragraph) > marker.end():
        head, paragraph = marker.group(), paragraph[marker.end():]
    out: list[Unit] = []
    glue_next = head  # text that must start the next unit (opening punct, tags, marker)
    prev_kind = ""
    for kind, raw in _join_phones(_atoms(paragraph)):
        if kind == "tag":
            if raw.startswith("[/") and out and not glue_next:
                out[-1] = Unit(out[-1].raw + raw, out[-1].space)
            else:
                glue_next += raw
            continue
        if kind == "space":
            if glue_next:  # an opening mark or tag before a space: text of its own
                out.append(Unit(glue_next))
            out.append(Unit(raw, space=True))
            glue_next, prev_kind = "", kind
            continue
        closing = kind == "char" and (raw in CLOSING or (raw in UNITS and prev_kind == "code"))
        joins = (out and not out[-1].space and not glue_next
                 and (closing or (phrases and prev_kind in ("char", "code")
                                  and out[-1].raw[-1:] not in CLOSING)))
        if joins:
            out[-1] = Unit(out[-1].raw + raw)
        elif kind == "char" and raw in OPENING:
            glue_next += raw
            prev_kind = ""
            continue
        else:
            out.append(Unit(glue_next + raw))
            glue_next = ""
        prev_kind = kind
    if glue_next:
        if out and not out[-1].space:
            out[-1] = Unit(out[-1].raw + glue_next)
        else:
            out.append(Unit(glue_next))
    return out


def _open_tags(raw: str, stack: list[str]) -> list[str]:
    for m in _TAG.finditer(raw):
        tag = m.group()
        if tag.startswith("[/"):
            name = tag[2:-1]
            for j in range(len(stack) - 1, -1, -1):
                if stack[j][1:].split("=")[0].rstrip("]") == name:
                    del stack[j]
                    break
        else:
            stack.append(tag)
    return stack


def _split_long(raw: str, width: float, measure: Measure) -> list[str]:
    """Last resort for one unit wider than the line: break it between characters
    (markup tags kept whole)."""
    pieces: list[str] = []
    cur = ""
    for kind, atom in _atoms(raw):
        chars = [atom] if kind == "tag" else list(atom)
        for c in chars:
            if cur and kind != "tag" and measure(cur + c) > width:
                pieces.append(cur)
                cur = ""
            cur += c
    if cur:
        pieces.append(cur)
    return pieces


def wrap(text: str, width: float, measure: Measure, *, phrases: bool = False,
         indent: str = "", hang: float = 0, split: bool = True) -> list[str]:
    """Greedy lines of ``text`` no wider than ``width`` by ``measure``, breaking only
    where the rule allows. Explicit newlines are kept. Continuation lines of a paragraph
    start with ``indent`` (text: the printer's ROM-font hanging indent) and have ``hang``
    less room (a drawn indent: the raster slips). A unit wider than a whole line
    is broken between characters (nothing else fits it), or left whole with
    ``split=False`` (so :func:`fit` sees that it does not fit). A paragraph does not end
    with one character alone on its last line (或直接取/号) when the lines before it
    can give it a companion without needing another line."""
    lines: list[str] = []
    tags: list[str] = []  # markup open at the start of the current line, for measuring
    for paragraph in text.split("\n"):
        args = (measure, phrases, indent, hang, split)
        plines = _paragraph(paragraph, width, list(tags), *args)
        if len(plines) >= 2 and _orphan(plines[-1]):
            last = strip_markup(plines[-1]).strip(_SPACE)
            narrower = width - measure(last[:1])
            alt = _paragraph(paragraph, narrower, list(tags), measure, phrases, indent, hang,
                             False)
            if len(alt) == len(plines) and not _orphan(alt[-1]) \
                    and all(measure(x) <= narrower for x in alt[:1]):
                plines = alt
        for line in plines:
            lines.append(line)
            _open_tags(line, tags)
    return lines


def _orphan(line: str) -> bool:
    visible = strip_markup(line).strip(_SPACE).rstrip("".join(CLOSING))
    return len(visible) == 1 and not visible.isascii()


def _paragraph(paragraph: str, width: float, tags: list[str], measure: Measure,
               phrases: bool, indent: str, hang: float, split: bool) -> list[str]:
    lines: list[str] = []
    cur: list[str] = []
    approx = 0.0  # sum of the units' own widths: exact measuring only near the edge
    first = True

    def emit() -> None:
        nonlocal cur, first, approx
        line = "".join(cur).rstrip(_SPACE)
        lines.append(line)
        _open_tags(line, tags)
        cur, first, approx = [], False, 0.0

    def too_wide(candidate: list[str], approx: float, room: float) -> bool:
        if approx <= room * 0.8:
            return False
        return measure(("".join(tags) + "".join(candidate)).rstrip(_SPACE)) > room

    for unit in units(paragraph, phrases=phrases):
        if not cur and unit.space and not first:
            continue  # a line never starts with a space
        own = measure("".join(tags) + unit.raw)
        room = width if first else width - hang
        if cur and too_wide([*cur, unit.raw], approx + own, room):
            emit()
            if unit.space:
                continue
        if not cur and not first and indent:
            cur.append(indent)
            approx = measure(indent)
        room = width if first else width - hang
        if split and not unit.space and too_wide([*cur, unit.raw], approx + own, room):
            room -= measure("".join(tags) + "".join(cur)) if cur else 0
            pieces = _split_long(unit.raw, room, measure)
            for piece in pieces[:-1]:
                cur.append(piece)
                emit()
                if indent:
                    cur.append(indent)
                    approx = measure(indent)
            rest = pieces[-1] if pieces else unit.raw
            cur.append(rest)
            approx += measure("".join(tags) + rest)
        else:
            cur.append(unit.raw)
            approx += own
    if cur or first:
        lines.append("".join(cur).rstrip(_SPACE))
    return lines


def breaks_allowed(text: str, *, phrases: bool = False) -> set[int]:
    """Offsets in the visible text (markup removed) where the rule allows a break."""
    offsets: set[int] = set()
    pos = 0
    for paragraph in text.split("\n"):
        for unit in units(paragraph, phrases=phrases):
            pos += len(strip_markup(unit.raw))
            offsets.add(pos)
            if unit.space:
                offsets.add(pos - 1)  # the space itself may be dropped at the break
        pos += 1
        offsets.add(pos)
    return offsets


def strip_markup(text: str) -> str:
    return _TAG.sub("", text).replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")


def fit(text: str, width: float, height: float, sizes: Iterable[float],
        measure_at: Callable[[float], Measure], line_height_at: Callable[[float], float]
        ) -> tuple[float, list[str]]:
    """The largest of ``sizes`` (descending) at which ``text`` fits ``width`` x
    ``height`` breaking only between phrases (buttons: words never split); the
    smallest size with ordinary breaks if none does."""
    last: tuple[float, list[str]] | None = None
    for size in sizes:
        measure = measure_at(size)
        lines = wrap(text, width, measure, phrases=True, split=False)
        fits = all(measure(line) <= width for line in lines)
        if fits and len(lines) * line_height_at(size) <= height:
            return size, lines
        last = (size, lines)
    if last is None:
        raise ValueError("fit: no sizes given")
    size = last[0]
    return size, wrap(text, width, measure_at(size))


def violations(lines: Sequence[str], source: str, *, phrases: bool = False) -> list[str]:
    """What is wrong with ``lines`` as rendered from ``source`` by the rule (for tests
    and for checking a screen): empty when nothing is."""
    problems: list[str] = []
    visible = [strip_markup(x) for x in lines]
    for i, line in enumerate(visible):
        body = line.lstrip(_SPACE)
        if i and body[:1] in CLOSING:
            problems.append(f"line {i + 1} starts with {body[:1]!r}: {line!r}")
        if _MARKER.fullmatch(body.rstrip(_SPACE)) and body.strip():
            problems.append(f"line {i + 1} is a list marker alone: {line!r}")
        if i + 1 < len(visible) and line.rstrip(_SPACE)[-1:] in OPENING:
            problems.append(f"line {i + 1} ends with {line.rstrip()[-1]!r}: {line!r}")
    allowed = breaks_allowed(source, phrases=phrases)
    flat = strip_markup(source)
    pos = 0
    for line in visible[:-1]:
        # Find where this rendered line ends in the source (spaces may have been dropped).
        stripped = line.strip(_SPACE)
        at = flat.find(stripped, pos) if stripped else pos
        if at < 0:
            break
        end = at + len(stripped)
        if end not in allowed and end < len(flat):
            problems.append(f"break inside a unit after {flat[max(0, end - 8):end]!r}|"
                            f"{flat[end:end + 8]!r}")
        pos = end
    return problems
