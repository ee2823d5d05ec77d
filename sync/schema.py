"""A small JSON Schema subset validator for downlink payloads.

The schemas below are plain JSON Schema (draft-07 subset: type, properties, required,
additionalProperties (false), patternProperties, maxProperties, items, enum, pattern,
min/maxLength, min/maxItems, minimum, maximum), so docs/asyncapi.yaml carries the very
same dicts (a test checks that) and a broker-side or HQ-side tool can validate with any
JSON Schema library. The Pi needs no extra dependency for it: this module checks the
subset in a few lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from device.errors import ParseError
from device.fields import INT64_MAX, check_text, int_field, number_field
from sync.topics import CONTENT_KINDS

Schema = Mapping[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def validate(value: Any, schema: Schema, path: str = "$") -> None:
    """Raise :class:`ParseError` naming the first place ``value`` breaks ``schema``; a
    schema's ``description`` is what to write there instead (the fix, for the sender)."""
    fix = f"; write {schema['description']}" if "description" in schema else ""
    tp = schema.get("type")
    if tp is not None:
        ok = isinstance(value, _TYPES[tp])
        if tp in ("integer", "number") and isinstance(value, bool):
            ok = False
        if not ok:
            raise ParseError(f"{path}: expected {tp}, got {_kind(value)}{fix}")
    if "enum" in schema and value not in schema["enum"]:
        raise ParseError(f"{path}: {value!r} is not one of {list(schema['enum'])}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise ParseError(f"{path}: shorter than {schema['minLength']} characters{fix}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise ParseError(f"{path}: longer than {schema['maxLength']} characters{fix}")
        # Valid Unicode, no control or invisible characters. Short strings (ids, names,
        # versions) are one line; long texts may hold newlines and tabs.
        limit = schema.get("maxLength", MAX_TEXT)
        check_text(value, path, limit=limit, multiline=limit > MAX_LINE)
        # The whole string (JSON Schema's anchored ^...$ as ECMA reads it): re.search
        # with "$" would also match before a trailing newline ("v1\n").
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            raise ParseError(f"{path}: {value[:40]!r} does not match {schema['pattern']}{fix}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ParseError(f"{path}: {value} is below {schema['minimum']}{fix}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ParseError(f"{path}: {value} is above {schema['maximum']}{fix}")
        # Finite and within 64 bits, whatever the schema says (NaN compares false above).
        lo, hi = schema.get("minimum", -INT64_MAX), schema.get("maximum", INT64_MAX)
        if isinstance(value, int):
            int_field({"value": value}, "value", lo=lo, hi=hi, where=path)
        else:
            number_field({"value": value}, "value", lo=lo, hi=hi, where=path)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise ParseError(f"{path}: needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ParseError(f"{path}: more than {schema['maxItems']} items{fix}")
        if "items" in schema:
            for i, item in enumerate(value):
                validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        _validate_object(value, schema, path)


def _validate_object(value: dict[str, Any], schema: Schema, path: str) -> None:
    props: Mapping[str, Schema] = schema.get("properties", {})
    # Keys that are data (a year, "2027"): each key matching a pattern is checked against
    # that pattern's schema (anchored patterns, so re.fullmatch agrees with ECMA's search).
    patterns: Mapping[str, Schema] = schema.get("patternProperties", {})
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        fix = f"; write {schema['description']}" if "description" in schema else ""
        raise ParseError(f"{path}: more than {schema['maxProperties']} fields{fix}")
    for key in schema.get("required", ()):
        if key not in value:
            raise ParseError(f"{path}: missing required field {key!r}")
    if schema.get("additionalProperties") is False:
        extra = sorted(k for k in value if k not in props
                       and not any(re.fullmatch(p, k) for p in patterns))
        if extra:
            allowed = [*sorted(props), *(f"names matching {p}" for p in patterns)]
            raise ParseError(f"{path}: unknown field {extra[0][:40]!r}; allowed: "
                             + ", ".join(allowed))
    for key, sub in props.items():
        if key in value:
            validate(value[key], sub, f"{path}.{key}")
    for pattern, sub in patterns.items():
        for key in sorted(value):
            if key not in props and re.fullmatch(pattern, key):
                validate(value[key], sub, f"{path}.{key}")


def _kind(value: Any) -> str:
    for name, types in _TYPES.items():
        if isinstance(value, types) and not (name in ("integer", "number")
                                             and isinstance(value, bool)):
            return name
    return type(value).__name__


def _s(max_len: int, min_len: int = 0, **kw: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_len, "maxLength": max_len, **kw}


def _strings(max_items: int, max_len: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": max_items, "items": _s(max_len)}


def _obj(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": props}


MAX_TEXT = 100_000  # a string with no maxLength of its own
MAX_LINE = 200  # strings with a maxLength up to this are one line (no newline or tab)
# Patterns are anchored and matched against the whole string (re.fullmatch); [0-9], not
# \d, which in Python also takes other scripts' digits.
# An id that can stand as a topic level (same rule as device.config_load's site/device ids).
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VERSION = _s(64, 1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")
TIMESTAMP = _s(40, 10, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}"
                               r"(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$")
DATE = _s(10, 10, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# The new kinds say what to write (validate appends a schema's description to its error).
_DAY = {**DATE, "description": "an ISO date like 2027-01-01"}
SEQ = {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
# At most this many events per resend command: HQ asks in ranges, and one command can
# never re-queue a whole journal.
MAX_RESEND = 10_000

_COUNT = {"type": "integer", "minimum": 0, "maximum": 100_000_000,
          "description": "a count: a whole number, 0 or more"}
_RATE = {"type": "number", "minimum": 0, "maximum": 100,
         "description": "a per cent from 0 to 100 (leave the field out when nobody rated)"}
# One month's figures of a station or a window (hq.reports.results._figures).
_FIGURES = {"rated": _COUNT, "good_rate": _RATE, "bad_rate": _RATE, "bad_total": _COUNT,
            "bad_closed": _COUNT, "bad_on_time": _COUNT}

# Site content, one schema per kind. No personal data: appointments carry a booking
# code, a service and a slot, never a name or an ID number.
CONTENT_SCHEMAS: dict[str, dict[str, Any]] = {
    # The fields device/catalogue.py reads (parse_catalogue checks them again on the Pi).
    "catalogue": _obj(["version", "services"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "title": _s(60),
        "consult_phone": _s(30),
        "services": {"type": "array", "minItems": 1, "maxItems": 500, "items": _obj(
            ["code", "name", "materials"], {
                "code": _s(64, 1, pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$"),
                "name": _s(60, 1),
                "category": _s(60),
                "summary": _s(2000),
                "conditions": _strings(100, 2000),
                "materials": {**_strings(100, 2000), "minItems": 1},
                "process": _strings(100, 2000),
                "time_limit": _s(2000),
                "fees": {"type": "array", "maxItems": 50, "items": _obj(
                    ["item", "yuan", "basis"], {
                        "item": _s(200), "yuan": {"type": "number", "minimum": 0, "maximum": 1e7},
                        "basis": _s(400)})},
                "basis": _strings(100, 2000),
                "authority": _s(2000),
                "forms": _strings(100, 2000),
            })},
    }),
    "roster": _obj(["version", "officers"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "officers": {"type": "array", "maxItems": 500, "items": _obj(["badge", "name"], {
            "badge": _s(20, 1),
            "name": _s(60, 1),
            "role": _s(60),
            "phone": _s(30),
            "photo": _s(200),
            # The officer panel's PIN, hashed (device/pins.py; Django's PBKDF2 format).
            "pin_hash": _s(200, pattern=r"^pbkdf2_sha256\$[0-9]{1,9}\$[A-Za-z0-9./+=_-]{1,64}"
                              r"\$[A-Za-z0-9+/=]{40,64}$"),
            "windows": {"type": "array", "maxItems": 100,
                        "items": {"type": "integer", "minimum": 0, "maximum": 9999}},
        })},
    }),
    "appointments": _obj(["version", "date", "appointments"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "date": DATE,
        "appointments": {"type": "array", "maxItems": 5000, "items": _obj(
            ["code", "service", "slot"], {
                "code": _s(64, 1),
                "service": _s(64, 1),
                "slot": _s(11, 5, pattern=r"^[0-9]{2}:[0-9]{2}(-[0-9]{2}:[0-9]{2})?$"),
                "channel": {"type": "string",
                            "enum": ["online", "phone", "wechat", "window"]},
                "window": {"type": "integer", "minimum": 0, "maximum": 9999},
            })},
    }),
    "notices": _obj(["version", "notices"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "notices": {"type": "array", "maxItems": 100, "items": _obj(["id", "text"], {
            "id": _s(64, 1),
            "text": _s(2000, 1),
            "level": {"type": "string", "enum": ["info", "warning", "urgent"]},
            "from": TIMESTAMP,
            "until": TIMESTAMP,
        })},
    }),
    # The station's latest published month (hq.reports: PublishedMonth), for the home
    # screen (device/results.py reads it). Figures only: names of the station and its
    # windows, no officer, case or citizen. A rate is absent when nobody rated.
    "results": _obj(["version", "month", "station"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "month": _s(7, 7, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
                    description="the month like 2026-11"),
        "station": _obj(["name", "rated"], {"name": _s(60, 1), **_FIGURES}),
        "windows": {"type": "array", "maxItems": 500, "items": _obj(
            ["device", "name", "rated"],
            {"device": _s(64, 1, pattern=ID_PATTERN), "name": _s(60, 1), **_FIGURES})},
    }),
    # The working-day calendar for promised dates (device/holidays.py reads it): per year,
    # the official days off and the weekend days worked instead (调休). The reader checks
    # what a schema cannot: real dates, in their year, make-up days on weekends.
    "holidays": _obj(["version", "years"], {
        "version": VERSION,
        "published_at": TIMESTAMP,
        "years": {"type": "object", "maxProperties": 20, "additionalProperties": False,
                  "description": "at most 20 years, from last year on",
                  "patternProperties": {r"^[0-9]{4}$": _obj(["holidays", "workdays"], {
                      "holidays": {"type": "array", "maxItems": 366, "items": _DAY},
                      # A year has at most 106 Saturdays and Sundays.
                      "workdays": {"type": "array", "maxItems": 106, "items": _DAY},
                  })}},
    }),
}

# The topic contract is the authority: a kind added there needs its schema here.
assert set(CONTENT_SCHEMAS) == set(CONTENT_KINDS), "CONTENT_SCHEMAS differs from CONTENT_KINDS"

# Device commands: every request has an id (echoed in the result) and named arguments.
_REQ_ID = _s(64, 1)
COMMAND_SCHEMAS: dict[str, dict[str, Any]] = {
    "ping": _obj(["id"], {"id": _REQ_ID}),
    "publish_state": _obj(["id"], {"id": _REQ_ID}),
    "publish_health": _obj(["id"], {"id": _REQ_ID}),
    # HQ saw a gap: send the events from_seq..to_seq again (if the journal still has them);
    # at most MAX_RESEND events (to_seq defaults to from_seq + MAX_RESEND - 1).
    "resend": _obj(["id", "from_seq"], {
        "id": _REQ_ID,
        "from_seq": SEQ,
        "to_seq": SEQ,
    }),
    # Content versions only go forward; HQ going back to an older one says so here (the
    # counter records it and answers): the retained document of that version is applied.
    "rollback": _obj(["id", "kind", "version"], {
        "id": _REQ_ID,
        "kind": {"type": "string", "enum": sorted(CONTENT_KINDS)},
        "version": VERSION,
    }),
}

# HQ's end-to-end receipt on Topics.confirmed (retained, written only by HQ). Fields HQ
# may add later are let through; the two the counter acts on are checked.
CONFIRMED_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["upto", "ts"],
    "properties": {"upto": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                   "ts": TIMESTAMP},
}

CONTENT_RESULT_SCHEMA: dict[str, Any] = _obj(["kind", "ok", "applied", "ts"], {
    "kind": {"type": "string", "enum": sorted(CONTENT_SCHEMAS)},
    "version": _s(64),
    "ok": {"type": "boolean"},
    "applied": {"type": "boolean"},
    "error": _s(500),
    "ts": TIMESTAMP,
})

COMMAND_RESULT_SCHEMA: dict[str, Any] = _obj(["name", "ok", "ts"], {
    "id": _s(64),
    "name": _s(64),
    "ok": {"type": "boolean"},
    "error": _s(500),
    "result": {"type": "object"},
    "ts": TIMESTAMP,
})
