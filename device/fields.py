"""Field readers shared by the parsers of outside input (workstation lines, catalogue
documents): one rule for "a string field, maybe required, at most N characters", and one
wording of what is wrong, always as :class:`ParseError`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from device.errors import ParseError


def text_field(d: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 200,
               where: str = "") -> str:
    """``d[key]`` as a string ("" when optional and absent). ``where`` prefixes the
    message (e.g. "catalogue services[3]") so the sender can find the field."""
    prefix = f"{where}: " if where else ""
    value = d.get(key)
    if value is None:
        if required:
            raise ParseError(f"{prefix}missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise ParseError(f"{prefix}field {key!r} must be a string")
    if len(value) > limit:
        raise ParseError(f"{prefix}field {key!r} is longer than {limit} characters")
    return value
