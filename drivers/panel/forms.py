"""The panel's forms as workstation-link requests: one button, one op.

A form posts ``op`` and that op's fields as text; :func:`to_message` makes the JSON
object the link would have received, and drivers/link.py checks and submits it, so the
panel and the link cannot disagree about what an op means. Only the conversions a form
needs happen here (checkbox lists, numbers, the two ways to name a transfer target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from device.errors import ParseError

MAX_BODY = 16 * 1024  # a form with every material ticked and long remarks is ~2 KB
MAX_FIELDS = 100

# The ops a form may post: the text fields passed on always (the link names an empty
# one), and those passed on only when filled in.
_TEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "call_next": ((), ()), "recall": ((), ()), "no_show": ((), ()), "back": ((), ()),
    "case_end": ((), ()),
    "call": (("number",), ()),
    "transfer": (("number",), ()),
    "case_start": (("case_no", "service"), ()),
    "away": (("reason", "return_at"), ("phone", "backup")),
    "notice": ((), ("remarks", "deadline")),
    "refusal": ((), ("reason", "basis")),
    "receipt": ((), ("promised_date", "pickup")),
    "referral": (("to",), ("matter",)),
    "promise_change": (("case_no", "new_date", "reason"), ()),
    "intake": ((), ("remarks",)),
    "home_visit": (("date", "need"), ()),
}
OPS = frozenset(_TEXT)

Form = Mapping[str, Sequence[str]]


def parse_body(body: bytes) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body: each name with its values."""
    if len(body) > MAX_BODY:
        raise ParseError(f"form larger than {MAX_BODY} bytes")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False,
                          errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"form is not valid URL-encoded UTF-8 ({exc})") from None
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


def one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    if len(values) != 1:
        raise ParseError(f"form field {name!r} sent {len(values)} times")
    return values[0]


def _int(text: str, name: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 3:
        raise ParseError(f"{name} must be a number")
    return int(text)


def to_message(form: Form) -> dict[str, Any]:
    """The link request the form asks for (ParseError naming a field it cannot be)."""
    op = one(form, "op")
    if op not in OPS:
        raise ParseError(f"unknown op {op[:40]!r}")
    msg: dict[str, Any] = {"op": op}
    required, optional = _TEXT[op]
    for name in required:
        msg[name] = one(form, name).strip()
    for name in optional:
        if value := one(form, name).strip():
            msg[name] = value
    if op in ("notice", "intake"):
        # Ticked materials (missing, or received after hours) arrive as their numbers in
        # the catalogue's list.
        msg["materials"] = [_int(v, "material") for v in form.get("material", [])]
    elif op == "home_visit":
        # Two time inputs make the link's "HH:MM-HH:MM" slot.
        msg["slot"] = f"{one(form, 'slot_from').strip()}-{one(form, 'slot_to').strip()}"
    elif op == "refusal":
        chosen = one(form, "refusal")
        if chosen and chosen != "other":
            msg["refusal"] = _int(chosen, "refusal")
            msg.pop("reason", None)
            msg.pop("basis", None)
    elif op == "transfer":
        if service := one(form, "service").strip():
            msg["service"] = service
        elif window := one(form, "window").strip():
            msg["window"] = _int(window, "window")
        else:
            raise ParseError("choose where the ticket goes: a service or a window number")
    elif op == "away" and one(form, "backup_window"):
        msg["backup"] = f"window {_int(one(form, 'backup_window'), 'backup window')}"
    return msg
