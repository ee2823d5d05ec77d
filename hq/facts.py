"""The few fields of an event the reports group and count by, as columns of hq_events.

A city's month is five million events: parsing each JSON body in the report query was
most of its time on PostgreSQL (31 s). The collector copies these fields out of each
event as it stores it, and migration fleet 0004 copies them out of the rows stored
before. Both follow one rule, so a report reads the same from old and new rows: a text
field counts only when it is a JSON string, a count only when it is a JSON integer in
0..MAX_COUNT, a duration (an away's ``duration_s``, a ticket's ``waited_s``) only when it
is a JSON number in 0..MAX_SECONDS; anything else is absent (NULL, or 0 for the count).
Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

TEXT_FIELDS = ("level", "officer", "service")
SECONDS_FIELDS = ("duration_s", "waited_s")  # the first that holds a duration counts
MAX_COUNT = 999_999
MAX_SECONDS = 31 * 86_400  # an away or a wait longer than a month is a broken clock


class Facts(NamedTuple):
    level: str | None
    officer: str | None
    service: str | None
    mirror_flags: int
    seconds: float | None


NONE = Facts(None, None, None, 0, None)


def facts(ev: Mapping[str, Any]) -> Facts:
    data = ev.get("data")
    if not isinstance(data, dict):  # not Mapping: an ABC check per event costs at 20k/s
        return NONE
    def text(name: str) -> str | None:
        v = data.get(name)
        return v if isinstance(v, str) else None

    def seconds() -> float | None:
        for name in SECONDS_FIELDS:
            v = data.get(name)
            if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= MAX_SECONDS:
                return float(v)  # NaN fails the comparison
        return None

    flags = data.get("mirror_flags")
    count = (flags if isinstance(flags, int) and not isinstance(flags, bool)
             and 0 <= flags <= MAX_COUNT else 0)
    return Facts(text("level"), text("officer"), text("service"), count, seconds())


def backfill_sql(vendor: str) -> str:
    """One UPDATE that fills the columns of rows stored without them, by the same rule."""
    if vendor == "postgresql":
        def secs(f: str) -> str:  # nested: PostgreSQL may evaluate an AND's sides in any order
            v = f"(body::jsonb)->'data'->'{f}'"
            return (f"CASE WHEN jsonb_typeof({v}) = 'number' THEN CASE WHEN CAST({v} AS "
                    f"DOUBLE PRECISION) BETWEEN 0 AND {MAX_SECONDS} THEN CAST({v} AS "
                    "DOUBLE PRECISION) END END")

        def text(f: str) -> str:
            return (f"CASE WHEN jsonb_typeof((body::jsonb)->'data'->'{f}') = 'string' "
                    f"THEN (body::jsonb)->'data'->>'{f}' END")
        flags = ("CASE WHEN jsonb_typeof((body::jsonb)->'data'->'mirror_flags') = 'number' "
                 "AND ((body::jsonb)->'data'->>'mirror_flags') ~ '^[0-9]{1,6}$' "
                 "THEN CAST((body::jsonb)->'data'->>'mirror_flags' AS INTEGER) ELSE 0 END")
    else:
        def secs(f: str) -> str:
            return (f"CASE WHEN json_type(body, '$.data.{f}') IN ('integer', 'real') AND "
                    f"json_extract(body, '$.data.{f}') BETWEEN 0 AND {MAX_SECONDS} THEN "
                    f"CAST(json_extract(body, '$.data.{f}') AS REAL) END")

        def text(f: str) -> str:
            return (f"CASE WHEN json_type(body, '$.data.{f}') = 'text' "
                    f"THEN json_extract(body, '$.data.{f}') END")
        flags = ("CASE WHEN json_type(body, '$.data.mirror_flags') = 'integer' AND "
                 "json_extract(body, '$.data.mirror_flags') BETWEEN 0 AND 999999 "
                 "THEN json_extract(body, '$.data.mirror_flags') ELSE 0 END")
    sets = ", ".join([f"{f} = {text(f)}" for f in TEXT_FIELDS] + [
        f"seconds = COALESCE({', '.join(secs(f) for f in SECONDS_FIELDS)})"])
    # One broken body would fail the whole statement: SQLite's json functions on
    # malformed text, PostgreSQL's jsonb cast on an escaped NUL (jsonb text cannot hold
    # one). The collector refuses both; a 0.1 database may hold them: they keep no facts.
    nul = r"'\u0000'"
    guard = (f"left(body, 1) = '{{' AND strpos(body, {nul}) = 0" if vendor == "postgresql"
             else f"json_valid(body) AND json_type(body, '$.data') = 'object' AND "
                  f"instr(body, {nul}) = 0")
    return f"UPDATE hq_events SET {sets}, mirror_flags = {flags} WHERE {guard}"
