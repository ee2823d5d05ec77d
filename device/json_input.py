"""Strict decoding of one JSON object from outside (a workstation line, a control request).

:func:`json.loads` accepts things we can never store, show or send back: a lone surrogate
written as ``"\\udcff"`` (valid JSON, invalid Unicode: the UTF-8 encoder of the reply,
the log and SQLite reject it later), ``NaN``/``Infinity`` (not JSON at all), integers of
thousands of digits and nesting deep enough to overflow the stack. :func:`load_object`
refuses all of them here, where the text enters, with a :class:`ParseError` that names
the key; the field readers in :mod:`device.fields` then check each field they use.
"""

from __future__ import annotations

import json
from typing import Any

from device.errors import ParseError
from device.fields import check_text, refuse_resident_id

MAX_DEPTH = 16  # no message of ours nests deeper than 3
MAX_KEY = 64


def _no_constant(name: str) -> Any:
    raise ParseError(f"{name} is not a JSON value; send a finite number")


def _check(value: Any, path: str, depth: int, where: str) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        # Valid Unicode only; control characters and lengths are each field's business
        # (a JSON text inside a string, e.g. `kiosk sim link`, may carry a tab).
        for ch in value:
            if "\ud800" <= ch <= "\udfff":
                raise ParseError(f"field {path!r} is not valid Unicode (lone surrogate "
                                 f"U+{ord(ch):04X}); send UTF-8 text")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{path}.{key}" if path else key, limit=MAX_KEY)
            _check(item, f"{path}.{key}" if path else key, depth + 1, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]", depth + 1, where)


def load_object(raw: bytes | str, *, max_bytes: int, where: str) -> dict[str, Any]:
    """The JSON object in ``raw`` (strict UTF-8, at most ``max_bytes``), or ParseError.

    ``where`` starts every message ("line", "request") so the sender knows what was wrong.
    """
    if isinstance(raw, str):
        # A str that came from outside may hold surrogates (surrogateescape'd argv):
        # keep them as bytes so the UTF-8 check below refuses them.
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        raise ParseError(f"{where} longer than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"{where} is not UTF-8 text") from None
    try:
        msg = json.loads(text, parse_constant=_no_constant)
    except ParseError as exc:
        raise ParseError(f"{where}: {exc}") from None
    except (ValueError, RecursionError):  # JSONDecodeError; ints over 4300 digits
        raise ParseError(f"{where} is not JSON (one JSON object per line)") from None
    if not isinstance(msg, dict):
        raise ParseError(f"{where} must be a JSON object")
    _check(msg, "", 0, where)
    return msg


def correlation_id(msg: dict[str, Any], key: str = "id", *, limit: int = 64) -> str | int | None:
    """The caller's request id (echoed in the reply): a bounded string or integer."""
    corr = msg.get(key)
    if corr is None:
        return None
    if isinstance(corr, bool) or not isinstance(corr, str | int):
        raise ParseError(f"field {key!r} must be a string of at most {limit} characters or "
                         "an integer (it is echoed in the reply)")
    if isinstance(corr, int):
        if not -(2**53) <= corr <= 2**53:
            raise ParseError(f"field {key!r} must be an integer between -2^53 and 2^53 "
                             "(what every JSON reader keeps exactly)")
        return corr
    # Echoed and logged, so no personal data either.
    return refuse_resident_id(check_text(corr, key, limit=limit), key)
