"""What HQ accepts from a counter: every events, state and health payload, checked once.

A message that fails is not an error of the collector: it is quarantined (stored with
its reason and its (site, device), acknowledged) and collection goes on for everyone
else. The checks are the ones that used to break HQ later, in SQLite, PostgreSQL, a log
line or a report: integers beyond 64 bits (``seq`` 2^63, a 5000-digit number that
Python's ``int`` refuses to parse), lone surrogates (valid JSON, invalid UTF-8), NaN,
timestamps that are no time at all (``T99:99:99``), non-hex chain hashes, and sizes:
a payload or batch is refused by its length before it is parsed, so a 66 MB batch never
becomes 200,000 dicts in memory.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from device.errors import ParseError
from device.fields import INT64_MAX, check_text
from sync.schema import ID_PATTERN

# A batch from kiosk-sync is mqtt.batch (default 10) envelopes of a few hundred bytes.
MAX_EVENTS_BYTES = 1024 * 1024
MAX_BATCH = 1000
MAX_STATUS_BYTES = 64 * 1024
MAX_DEPTH = 8  # nesting of an event's data / a status document
MAX_TEXT = 4000  # one string inside data (a comment's text is the longest)

ENVELOPE_KEYS = frozenset({"v", "id", "site", "device", "seq", "ts", "type", "data",
                           "prev", "hash"})
_ID = re.compile(ID_PATTERN)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TYPE = re.compile(r"^[a-z][a-z_]{0,30}(\.[a-z][a-z_]{0,30}){1,3}$")
# What device.events.seal writes: UTC, milliseconds, "Z".
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def _int(text: str) -> int:
    # Called by json for every integer literal: refuse before int() parses 5000 digits.
    if len(text) > 20:
        raise ParseError(f"an integer with {len(text)} digits is out of range")
    value = int(text)
    if not -INT64_MAX <= value <= INT64_MAX:
        raise ParseError(f"the integer {text} does not fit in 64 bits")
    return value


def _float(text: str) -> float:
    if len(text) > 40:
        raise ParseError("a number literal is too long")
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"the number {text} is not finite")
    return value


def _constant(text: str) -> Any:
    raise ParseError(f"{text} is not a JSON number; send a finite number")


def loads(payload: bytes, limit: int) -> Any:
    """Strict JSON: bounded size, UTF-8, 64-bit integers, finite numbers."""
    if len(payload) > limit:
        raise ParseError(f"payload of {len(payload)} bytes is over the limit of {limit}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("payload is not UTF-8") from None
    try:
        return json.loads(text, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ParseError(f"payload is not JSON: {exc.msg} at character {exc.pos}") from None
    except (RecursionError, ValueError) as exc:
        raise ParseError(f"payload is not acceptable JSON: {exc}") from None


def check_value(value: Any, where: str, depth: int = 0) -> None:
    """Every string valid text, every number in range, nesting bounded."""
    if depth > MAX_DEPTH:
        raise ParseError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, where, limit=MAX_TEXT, multiline=True)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT64_MAX <= value <= INT64_MAX:
            raise ParseError(f"{where}: integer out of 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ParseError(f"{where}: number is not finite")
    elif isinstance(value, list):
        if len(value) > MAX_BATCH:
            raise ParseError(f"{where}: more than {MAX_BATCH} items")
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, dict):
        if len(value) > 200:
            raise ParseError(f"{where}: more than 200 keys")
        for k, item in value.items():
            if not _KEY.match(k):
                raise ParseError(f"{where}: key {k[:40]!r} is not a plain name")
            check_value(item, f"{where}.{k}", depth + 1)
    else:  # pragma: no cover - json.loads makes nothing else
        raise ParseError(f"{where}: unexpected {type(value).__name__}")


def real_timestamp(ts: str, name: str = "ts") -> str:
    if not _TS.match(ts):
        raise ParseError(f"field {name!r} must be UTC like 2026-11-02T09:00:00.000Z")
    try:
        datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"field {name!r} is not a real time: {ts}") from None
    return ts


def envelope(ev: Any, site: str, device: str) -> dict[str, Any]:
    """One event envelope, exactly as device.events.seal makes it, from the topic's own
    (site, device)."""
    if not isinstance(ev, dict):
        raise ParseError("an event must be a JSON object")
    missing = ENVELOPE_KEYS - ev.keys()
    if missing:
        raise ParseError("event lacks " + ", ".join(sorted(missing)))
    extra = ev.keys() - ENVELOPE_KEYS
    if extra:
        raise ParseError("event has unknown field " + repr(sorted(extra)[0][:40]))
    if ev["v"] != 1 or isinstance(ev["v"], bool):
        raise ParseError("event field 'v' must be 1")
    for key, rule in (("id", _UUID), ("prev", _HEX64), ("hash", _HEX64), ("type", _TYPE),
                      ("site", _ID), ("device", _ID)):
        value = ev[key]
        if not isinstance(value, str) or not rule.match(value):
            raise ParseError(f"event field {key!r} is not a valid {key}")
    if ev["site"] != site or ev["device"] != device:
        raise ParseError(f"event of {ev['site']}/{ev['device']} published under "
                         f"{site}/{device}")
    seq = ev["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= INT64_MAX:
        raise ParseError("event field 'seq' must be an integer from 1 to 2^63-1")
    if not isinstance(ev["ts"], str):
        raise ParseError("event field 'ts' must be a string")
    real_timestamp(ev["ts"])
    if not isinstance(ev["data"], dict):
        raise ParseError("event field 'data' must be an object")
    check_value(ev["data"], "data")
    return ev


def events_payload(payload: bytes, site: str, device: str) -> list[dict[str, Any]]:
    """One envelope (JSON object) or a batch (JSON array of at most MAX_BATCH)."""
    doc = loads(payload, MAX_EVENTS_BYTES)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ParseError("an empty batch")
    if len(items) > MAX_BATCH:
        raise ParseError(f"a batch of {len(items)} events; at most {MAX_BATCH}")
    return [envelope(ev, site, device) for ev in items]


def status_payload(payload: bytes, leaf: str) -> dict[str, Any]:
    """A retained state or a health message: a bounded JSON object of plain values."""
    doc = loads(payload, MAX_STATUS_BYTES)
    if not isinstance(doc, dict):
        raise ParseError(f"{leaf} payload must be a JSON object")
    check_value(doc, leaf)
    return doc


def int_or_none(doc: Mapping[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        return None
    return value
