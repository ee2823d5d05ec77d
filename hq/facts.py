"""The few fields of an event the reports group and count by, as columns of hq_events.

A city's month is five million events: parsing each JSON body in the report query was
most of its time on PostgreSQL (31 s). The collector copies these fields out of each
event as it stores it, and migration fleet 0004 copies them out of the rows stored
before. Both follow one rule, so a report reads the same from old and new rows: a text
field counts only when it is a JSON string, a count only when it is a JSON integer in
0..MAX_COUNT, a duration (an away's ``duration_s``, a ticket's ``waited_s``) only when it
is a JSON number in 0..MAX_SECONDS; anything else is absent (NULL, or 0 for the count).

The written documents and the queue controls (:func:`doc_facts`, migration fleet 0005)
add four columns, filled only for their event types: ``kind`` (a document's kind, or what
a queue control did), ``case_no`` (to find the receipt a promise change moved), ``detail``
(what the report ranks: a refusal's reason, a referral's unit, a home visit's need, a
promise change's reason) and ``on_date`` (the date a document or a change promises, an
intake's handover day). A date counts only when it is a JSON string shaped 2026-11-02.
A ticket a station's window or entrance numbered from its own block (``fallback``) has
kind ``block``.

The station's shared queue (:func:`station_facts`, migration fleet 0007) adds two:
``window_no``, the station's window number a ticket.* event names (a JSON integer in
1..999), and ``service_s``, how long a ticket.done's case took. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

# The station's shared queue records as this device of its site (station/config.py). Its
# ticket events repeat what the windows and the entrance record of the same tickets: the
# station report reads them, every per-counter report leaves them out.
STATION_DEVICE = "station"
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
    return (f"UPDATE hq_events SET {sets}, mirror_flags = {flags} "
            f"WHERE {_guard(vendor == 'postgresql')}")


# ------------------------------------------------------------ documents and queue controls

DOC_TYPES = ("document.shown", "document.issued", "document.withdrawn")
PROMISE = "promise.changed"
# An after-hours intake handed on to its handover day's registration queue, and taken up
# there (device/handover.py): by case, with the handover date.
INTAKE_TYPES = ("intake.queued", "intake.called")
INTAKE = "intake"  # also ticket.called's kind when the call took up a handed-on intake
# What each document kind is ranked by (the first field that holds text) and the date it
# promises; a kind not listed (one a newer counter sends) keeps its code, nothing else.
DETAIL_OF = {"refusal": ("reason",), "referral": ("to_unit", "to"), "home_visit": ("need",)}
DATE_OF = {"receipt": "promised_date", "intake": "handover_date", "home_visit": "visit_date"}
OUT_OF_ORDER = "out_of_order"  # ticket.called's kind when it went before waiting tickets
BLOCK = "block"  # ticket.issued's kind when a device numbered it from its own block
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # [0-9], not \d: \d matches ٣ too


class DocFacts(NamedTuple):
    kind: str | None
    case_no: str | None
    detail: str | None
    on_date: str | None


DOC_NONE = DocFacts(None, None, None, None)


def doc_facts(ev: Mapping[str, Any]) -> DocFacts:
    etype, data = ev.get("type"), ev.get("data")
    if not isinstance(data, dict) or not isinstance(etype, str):
        return DOC_NONE
    if not (etype.startswith("ticket.") or etype.startswith("document.") or etype == PROMISE
            or etype.startswith("intake.")):
        return DOC_NONE  # most events: a few prefix tests, nothing more at ingest

    def text(name: str) -> str | None:
        v = data.get(name)
        return v if isinstance(v, str) else None

    def day(name: str) -> str | None:
        v = data.get(name)
        return v if isinstance(v, str) and _DATE.fullmatch(v) else None

    if etype in DOC_TYPES:
        kind = text("kind")
        # The first field that holds text, also "" (SQL's COALESCE stops at it too).
        found = (text(f) for f in DETAIL_OF.get(kind, ())) if kind is not None else iter(())
        detail = next((v for v in found if v is not None), None)
        on = day(DATE_OF[kind]) if kind in DATE_OF else None
        return DocFacts(kind, text("case_no"), detail, on)
    if etype == PROMISE:
        return DocFacts(None, text("case_no"), text("reason"), day("new_date"))
    if etype in INTAKE_TYPES:
        return DocFacts(None, text("case_no"), None, day("handover_date"))
    return DocFacts(_queue_kind(etype, data), None, None, None)


def _queue_kind(etype: str, data: dict[str, Any]) -> str | None:
    if etype == "ticket.issued":
        # The station did not answer and the device printed its own block's number
        # (device/queue.py): no station event tells of it, hq.reports.station counts it.
        return BLOCK if data.get("fallback") is True else None
    if etype == "ticket.called":
        intake = data.get("intake")
        if isinstance(intake, str) and intake:
            # A handed-on intake: nobody waited in the hall for it, so it is no citizen's
            # call and no citizen's wait (hq.reports.queries leaves it out).
            return INTAKE
        # Every call by number says out_of_order, also one that went before nobody
        # (device/ticket_ops.py): out of order is one that skipped waiting tickets.
        skipped = data.get("skipped")
        return (OUT_OF_ORDER if data.get("out_of_order") is True
                and isinstance(skipped, int | float) and not isinstance(skipped, bool)
                and skipped > 0 else None)
    if etype == "ticket.transferred":
        if isinstance(data.get("to_service"), str):
            return "service"
        return "window" if data.get("to_window") is not None else None
    if etype == "ticket.no_show":
        requeued = data.get("requeued")
        return "requeued" if requeued is True else "dropped" if requeued is False else None
    return None


def backfill_docs_sql(vendor: str) -> str:
    """Migration fleet 0005's UPDATE: :func:`doc_facts` of the rows stored before it."""
    pg = vendor == "postgresql"

    def v(f: str) -> str:
        return f"(body::jsonb)->'data'->'{f}'" if pg else f"'$.data.{f}'"

    def jtype(f: str) -> str:
        return f"jsonb_typeof({v(f)})" if pg else f"json_type(body, {v(f)})"

    def is_(f: str, json: str) -> str:  # the field is this JSON literal (true, false)
        return f"{v(f)} = '{json}'::jsonb" if pg else f"{jtype(f)} = '{json}'"

    def text(f: str) -> str:
        got = f"(body::jsonb)->'data'->>'{f}'" if pg else f"json_extract(body, {v(f)})"
        return f"CASE WHEN {jtype(f)} = '{'string' if pg else 'text'}' THEN {got} END"

    def day(f: str) -> str:
        shaped = (f"{text(f)} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'" if pg else
                  f"{text(f)} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'")
        return f"CASE WHEN {shaped} THEN {text(f)} END"

    number = "jsonb_typeof({0}) = 'number'" if pg else "json_type(body, {0}) IN ('integer', 'real')"
    skipped = (f"CASE WHEN {number.format(v('skipped'))} THEN CASE WHEN CAST({v('skipped')} "
               f"AS DOUBLE PRECISION) > 0 THEN '{OUT_OF_ORDER}' END END" if pg else
               f"CASE WHEN {number.format(v('skipped'))} AND json_extract(body, "
               f"{v('skipped')}) > 0 THEN '{OUT_OF_ORDER}' END")
    docs = f"type IN {DOC_TYPES}"
    intakes = f"type IN {INTAKE_TYPES}"
    intake = (f"{jtype('intake')} = '{'string' if pg else 'text'}' AND {text('intake')} <> ''")
    kind = text("kind")
    detail = " ".join(f"WHEN '{k}' THEN COALESCE({', '.join(text(f) for f in fs)}, NULL)"
                      for k, fs in DETAIL_OF.items())  # COALESCE(x, NULL): one field is x
    dates = " ".join(f"WHEN '{k}' THEN {day(f)}" for k, f in DATE_OF.items())
    sets = {
        "kind": f"CASE WHEN {docs} THEN {kind} "
                f"WHEN type = 'ticket.issued' THEN {_block(pg)} "
                f"WHEN type = 'ticket.called' THEN CASE WHEN {intake} THEN '{INTAKE}' "
                f"WHEN {is_('out_of_order', 'true')} THEN {skipped} END "
                f"WHEN type = 'ticket.transferred' THEN CASE WHEN {jtype('to_service')} = "
                f"'{'string' if pg else 'text'}' THEN 'service' WHEN {jtype('to_window')} "
                "<> 'null' THEN 'window' END "
                f"WHEN type = 'ticket.no_show' THEN CASE WHEN {is_('requeued', 'true')} "
                f"THEN 'requeued' WHEN {is_('requeued', 'false')} THEN 'dropped' END END",
        "case_no": f"CASE WHEN {docs} OR type = '{PROMISE}' OR {intakes} THEN "
                   f"{text('case_no')} END",
        "detail": f"CASE WHEN {docs} THEN CASE {kind} {detail} END "
                  f"WHEN type = '{PROMISE}' THEN {text('reason')} END",
        "on_date": f"CASE WHEN {docs} THEN CASE {kind} {dates} END "
                   f"WHEN type = '{PROMISE}' THEN {day('new_date')} "
                   f"WHEN {intakes} THEN {day('handover_date')} END"}
    types = (*DOC_TYPES, PROMISE, *INTAKE_TYPES, "ticket.called", "ticket.transferred",
             "ticket.no_show", "ticket.issued")
    return (f"UPDATE hq_events SET {', '.join(f'{c} = {e}' for c, e in sets.items())} "
            f"WHERE type IN {types} AND {_guard(pg)}")


def _block(pg: bool) -> str:
    got = ("(body::jsonb)->'data'->'fallback' = 'true'::jsonb" if pg
           else "json_type(body, '$.data.fallback') = 'true'")
    return f"CASE WHEN {got} THEN '{BLOCK}' END"


def _guard(pg: bool) -> str:
    """The rows a backfill reads. One broken body would fail the whole statement:
    SQLite's json functions on malformed text, PostgreSQL's jsonb cast on an escaped NUL
    (jsonb text cannot hold one). The collector refuses both; a 0.1 database may hold
    them: they keep no facts."""
    nul = r"'\u0000'"
    return (f"left(body, 1) = '{{' AND strpos(body, {nul}) = 0" if pg
            else f"json_valid(body) AND json_type(body, '$.data') = 'object' AND "
                 f"instr(body, {nul}) = 0")


# ------------------------------------------------------------ the station's shared queue

MAX_WINDOW = 999  # a window number, as station.toml and the station protocol allow


class StationFacts(NamedTuple):
    window_no: int | None
    service_s: float | None


STATION_NONE = StationFacts(None, None)


def station_facts(ev: Mapping[str, Any]) -> StationFacts:
    """The window number of a ticket.* event (a JSON integer, bool is not one, in
    1..MAX_WINDOW) and a ticket.done's ``service_s`` (a JSON number in 0..MAX_SECONDS)."""
    etype, data = ev.get("type"), ev.get("data")
    if not isinstance(data, dict) or not isinstance(etype, str) or \
            not etype.startswith("ticket."):
        return STATION_NONE
    w = data.get("window")
    window = (w if isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WINDOW
              else None)
    s = data.get("service_s") if etype == "ticket.done" else None
    took = (float(s) if isinstance(s, int | float) and not isinstance(s, bool)
            and 0 <= s <= MAX_SECONDS else None)  # NaN fails the comparison
    return StationFacts(window, took)


def backfill_station_sql(vendor: str) -> str:
    """Migration fleet 0007's UPDATE: :func:`station_facts` of the ticket.* rows stored
    before it, and the ``block`` kind of their ticket.issued (0005 did not know it)."""
    pg = vendor == "postgresql"
    if pg:
        # json, not jsonb, for the window: jsonb normalises 1e2 to 100, which Python
        # reads as a float (no window); json keeps the number as it was sent. Digits
        # only, at most three: a JSON integer, and at most MAX_WINDOW.
        w = "(body::json)->'data'"
        window = (f"CASE WHEN json_typeof({w}->'window') = 'number' AND ({w}->>'window') ~ "
                  f"'^[0-9]{{1,3}}$' THEN CASE WHEN CAST({w}->>'window' AS INTEGER) >= 1 "
                  f"THEN CAST({w}->>'window' AS INTEGER) END END")
        v = "(body::jsonb)->'data'->'service_s'"
        took = (f"CASE WHEN jsonb_typeof({v}) = 'number' THEN CASE WHEN CAST({v} AS DOUBLE "
                f"PRECISION) BETWEEN 0 AND {MAX_SECONDS} THEN CAST({v} AS DOUBLE PRECISION) "
                "END END")
    else:
        w = "'$.data.window'"
        window = (f"CASE WHEN json_type(body, {w}) = 'integer' AND json_extract(body, {w}) "
                  f"BETWEEN 1 AND {MAX_WINDOW} THEN json_extract(body, {w}) END")
        v = "'$.data.service_s'"
        took = (f"CASE WHEN json_type(body, {v}) IN ('integer', 'real') AND json_extract("
                f"body, {v}) BETWEEN 0 AND {MAX_SECONDS} THEN CAST(json_extract(body, {v}) "
                "AS REAL) END")
    return (f"UPDATE hq_events SET window_no = {window}, service_s = CASE WHEN type = "
            f"'ticket.done' THEN {took} END, kind = CASE WHEN type = 'ticket.issued' THEN "
            f"{_block(pg)} ELSE kind END WHERE substr(type, 1, 7) = 'ticket.' AND {_guard(pg)}")
