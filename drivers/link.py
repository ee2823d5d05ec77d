"""The workstation link: JSON lines from the officer's PC (serial USB CDC or TCP).

Every line gets exactly one reply line: ``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}`` naming the problem. Invalid lines change nothing. The protocol is in
docs/workstation-link.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from device.core import Core
from device.errors import ParseError
from device.intents import (
    AwayClear,
    AwaySet,
    CaseEnd,
    CaseStart,
    Intent,
    MirrorField,
    Press,
    SignIn,
    SignOut,
)
from drivers.base import BaseDriver, ControlHandler

log = logging.getLogger("link")

MAX_LINE = 4096


def _text(msg: dict[str, Any], key: str, *, required: bool = True, limit: int = 200) -> str:
    value = msg.get(key)
    if value is None:
        if required:
            raise ParseError(f"missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise ParseError(f"field {key!r} must be a string")
    if len(value) > limit:
        raise ParseError(f"field {key!r} is longer than {limit} characters")
    return value


def _sign_in(m: dict[str, Any]) -> Intent:
    return SignIn(_text(m, "badge", limit=20))


def _case_start(m: dict[str, Any]) -> Intent:
    return CaseStart(_text(m, "case_no", limit=40), _text(m, "service", limit=64))


def _case_end(m: dict[str, Any]) -> Intent:
    return CaseEnd(_text(m, "case_no", required=False, limit=40) or None)


def _field(m: dict[str, Any]) -> Intent:
    sensitive = m.get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise ParseError("field 'sensitive' must be true or false")
    return MirrorField(_text(m, "key", limit=40), _text(m, "label", limit=40),
                       _text(m, "value", limit=400), sensitive)


def _away(m: dict[str, Any]) -> Intent:
    return AwaySet(_text(m, "reason", limit=60), _text(m, "return_at", limit=40),
                   _text(m, "phone", required=False, limit=30),
                   _text(m, "backup", required=False, limit=60))


_OPS: dict[str, Callable[[dict[str, Any]], Intent]] = {
    "sign_in": _sign_in,
    "sign_out": lambda m: SignOut(),
    "case_start": _case_start,
    "field": _field,
    "case_end": _case_end,
    "call_next": lambda m: Press("next", source="link"),
    "away": _away,
    "back": lambda m: AwayClear(),
}


def parse_line(raw: bytes | str, max_bytes: int = MAX_LINE) -> tuple[Intent, Any]:
    """Parse one line into an intent and the caller's correlation ``id`` (or None).

    Raises :class:`ParseError` with a message fit to send back to the workstation.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        raise ParseError(f"line longer than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("line is not UTF-8") from None
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ParseError("line is not JSON (one JSON object per line)") from None
    if not isinstance(msg, dict):
        raise ParseError("line must be a JSON object")
    op = msg.get("op")
    if not isinstance(op, str) or op not in _OPS:
        raise ParseError(f"unknown op {op!r}; ops are " + ", ".join(sorted(_OPS)))
    corr = msg.get("id")
    if corr is not None and not isinstance(corr, str | int):
        raise ParseError("field 'id' must be a string or a number")
    return _OPS[op](msg), corr


def handle_line(core: Core, raw: bytes | str, max_bytes: int = MAX_LINE) -> dict[str, Any]:
    """Parse, submit and build the reply for one line. Never raises for bad input."""
    try:
        intent, corr = parse_line(raw, max_bytes)
    except ParseError as exc:
        log.warning("link: rejected line: %s", exc)
        return {"ok": False, "error": str(exc)}
    outcome = core.submit(intent)
    reply: dict[str, Any] = {"ok": outcome.ok, "state": outcome.state.mode.value}
    if corr is not None:
        reply["id"] = corr
    if not outcome.ok:
        reply["error"] = outcome.refused
    if outcome.events:
        reply["seq"] = [e.seq for e in outcome.events]
    return reply


class SimLink(BaseDriver):
    """Lines come from `kiosk sim link '<json>'` through the control socket."""

    name = "link"

    def __init__(self, max_line_bytes: int = MAX_LINE) -> None:
        self.max_line_bytes = max_line_bytes

    def control_commands(self) -> dict[str, ControlHandler]:
        return {"link": self._sim_line}

    def _sim_line(self, req: dict[str, Any]) -> dict[str, Any]:
        line = req.get("line")
        if not isinstance(line, str):
            return {"ok": False, "error": "link needs a 'line' (one JSON object as text)"}
        return {"ok": True, "reply": handle_line(self.core, line, self.max_line_bytes)}
