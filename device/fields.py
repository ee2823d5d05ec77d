"""Field readers shared by every parser of outside input (workstation lines, QR codes,
the control socket, MQTT payloads, catalogue documents).

Outside text is checked once, here, where it enters: it must be valid Unicode (no lone
surrogates, which JSON happily decodes but SQLite, logs and UTF-8 encoders reject later),
carry no control characters (ESC or a newline in an away reason would reach the sign and
split log lines), and be bounded. Every problem is a :class:`ParseError` that names the
field and says what to send instead.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from device.errors import ParseError

# Weights and check characters of GB 11643-1999 (the 18-character resident ID number).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

INT64_MAX = 2**63 - 1


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def check_text(value: str, name: str, *, limit: int, where: str = "",
               multiline: bool = False) -> str:
    """``value`` if it is text we can store, show, log and print; else :class:`ParseError`.

    ``multiline`` allows newlines and tabs (a comment, free remarks), never other control
    characters. Format characters (bidi overrides, zero-width joiners) are refused too:
    they make a field read differently on screen than in the record.
    """
    p = _prefix(where)
    if len(value) > limit:
        raise ParseError(f"{p}field {name!r} is longer than {limit} characters; shorten it")
    if value.isprintable():
        # No character of Cc, Cf, Cs, Co or Cn (nor a separator but the space): nothing
        # below refuses it. One C call instead of a lookup per character: HQ checks every
        # string of 20,000 events a second.
        return value
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            raise ParseError(f"{p}field {name!r} is not valid Unicode (lone surrogate "
                             f"U+{ord(ch):04X}); send UTF-8 text")
        cat = unicodedata.category(ch)
        if cat == "Cc" and not (multiline and ch in "\n\t"):
            raise ParseError(f"{p}field {name!r} contains the control character "
                             f"U+{ord(ch):04X}; send plain text on one line"
                             if not multiline else
                             f"{p}field {name!r} contains the control character "
                             f"U+{ord(ch):04X}; send plain text")
        if cat in ("Cf", "Cs", "Co", "Cn") and ch != "\ufeff":
            raise ParseError(f"{p}field {name!r} contains the invisible or unassigned "
                             f"character U+{ord(ch):04X}; remove it")
    return value


def looks_like_resident_id(value: str) -> bool:
    """True for an 18-character resident ID number with a valid check character.

    Such a value is personal data: it may appear only in a mirror field (memory only),
    never in a case number, badge or any other field that is stored or sent to HQ.
    """
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit() or not v[:17].isascii():
        return False
    total = sum(int(d) * w for d, w in zip(v[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == v[17]


def refuse_resident_id(value: str, name: str, *, where: str = "") -> str:
    """``value`` unless it looks like a resident ID number (see above)."""
    if looks_like_resident_id(value):
        raise ParseError(f"{_prefix(where)}field {name!r} looks like a resident ID number, "
                         "which is personal data and never recorded; send the case number "
                         "or badge instead")
    return value


def _present(d: Mapping[str, Any], key: str, required: bool, prefix: str) -> Any:
    """``d[key]``; None when absent (or null) and optional, a ParseError when required."""
    value = d.get(key)
    if value is None and required:
        raise ParseError(f"{prefix}missing field {key!r}")
    return value


def text_field(d: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 200,
               where: str = "", multiline: bool = False, nonempty: bool = False,
               personal: bool = False) -> str:
    """``d[key]`` as checked text ("" when optional and absent). ``where`` prefixes the
    message (e.g. "catalogue services[3]") so the sender can find the field.

    ``nonempty`` refuses "" and whitespace; ``personal=False`` (the default) refuses a
    value shaped like a resident ID number, since only mirror fields may carry one.
    """
    p = _prefix(where)
    if (value := _present(d, key, required, p)) is None:
        return ""
    if not isinstance(value, str):
        raise ParseError(f"{p}field {key!r} must be a string")
    check_text(value, key, limit=limit, where=where, multiline=multiline)
    if nonempty and not value.strip():
        raise ParseError(f"{p}field {key!r} is empty; send a value")
    if not personal:
        refuse_resident_id(value, key, where=where)
    return value


def int_field(d: Mapping[str, Any], key: str, *, lo: int = 0, hi: int = INT64_MAX,
              required: bool = True, default: int = 0, where: str = "") -> int:
    """``d[key]`` as an int in ``[lo, hi]``. ``True``/``False`` are not integers here."""
    p = _prefix(where)
    if (value := _present(d, key, required, p)) is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(f"{p}field {key!r} must be an integer")
    if not lo <= value <= hi:
        raise ParseError(f"{p}field {key!r} must be between {lo} and {hi}")
    return value


def number_field(d: Mapping[str, Any], key: str, *, lo: float = 0.0, hi: float = 1e9,
                 required: bool = True, default: float = 0.0, where: str = "") -> float:
    """``d[key]`` as a finite number in ``[lo, hi]`` (NaN and Infinity are refused)."""
    p = _prefix(where)
    if (value := _present(d, key, required, p)) is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"{p}field {key!r} must be a number")
    if isinstance(value, int) and not -INT64_MAX <= value <= INT64_MAX:
        raise ParseError(f"{p}field {key!r} must be between {lo:g} and {hi:g}")
    f = float(value)
    if not math.isfinite(f):
        raise ParseError(f"{p}field {key!r} must be a finite number")
    if not lo <= f <= hi:
        raise ParseError(f"{p}field {key!r} must be between {lo:g} and {hi:g}")
    return f
