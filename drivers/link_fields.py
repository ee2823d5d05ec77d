"""Field formats the workstation link's parsers share (drivers/link.py and the op modules
beside it): one check per field, where the line enters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from device.errors import ParseError
from device.fields import text_field

# The same format the counter holds its own cases to (device/counter.py).
CASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}")


def case_no_field(m: Mapping[str, Any], *, required: bool) -> str:
    case_no = text_field(m, "case_no", required=required, limit=40)
    if (required or case_no) and not CASE_RE.fullmatch(case_no):
        raise ParseError(f"case_no {case_no!r} must be 1-40 letters, digits, '-' or '_'")
    return case_no
