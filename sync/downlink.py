"""Downlink: site content and device commands from HQ, validated before anything changes.

Every parser here takes raw bytes from the broker and returns a validated document or
raises :class:`ParseError` with a reason (which goes back to HQ on the result topic).
Nothing else escapes: garbage never crashes the sync process (tests fuzz this).
Content is applied in one transaction into ``site_content``; the kiosk notices through
``PRAGMA data_version``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from device.errors import ParseError
from sync.schema import COMMAND_SCHEMAS, CONTENT_SCHEMAS, validate
from sync.topics import CONTENT_KINDS

MAX_CONTENT_BYTES = 512 * 1024
MAX_COMMAND_BYTES = 8 * 1024


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_object(payload: bytes, limit: int, what: str) -> dict[str, Any]:
    if len(payload) > limit:
        raise ParseError(f"{what}: payload is {len(payload)} bytes, the limit is {limit}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise ParseError(f"{what}: payload is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise ParseError(f"{what}: payload is not JSON") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{what}: payload must be a JSON object")
    return doc


def parse_content(kind: str, payload: bytes) -> dict[str, Any]:
    """Validate one site-content document of ``kind``."""
    if kind not in CONTENT_KINDS:
        raise ParseError(f"unknown content kind {kind!r}; kinds are " + ", ".join(CONTENT_KINDS))
    doc = _json_object(payload, MAX_CONTENT_BYTES, kind)
    validate(doc, CONTENT_SCHEMAS[kind], kind)
    if kind == "catalogue":
        # The kiosk's own reader is the last word: never store a catalogue it would refuse.
        from device.catalogue import parse_catalogue

        parse_catalogue(doc)
    return doc


def parse_command(name: str, payload: bytes) -> dict[str, Any]:
    """Validate one device command ``name``."""
    if name not in COMMAND_SCHEMAS:
        raise ParseError(f"unknown command {name!r}; commands are "
                         + ", ".join(sorted(COMMAND_SCHEMAS)))
    doc = _json_object(payload, MAX_COMMAND_BYTES, f"command {name}")
    validate(doc, COMMAND_SCHEMAS[name], f"command {name}")
    if "to_seq" in doc and doc["to_seq"] < doc["from_seq"]:
        raise ParseError(f"command {name}: to_seq is below from_seq")
    return doc


def request_id(payload: bytes) -> str | None:
    """The ``id`` of a command that failed validation, if one can be read (for the reply)."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    rid = doc.get("id") if isinstance(doc, dict) else None
    return rid[:64] if isinstance(rid, str) else None


def current_version(conn: sqlite3.Connection, kind: str) -> str | None:
    row = conn.execute("SELECT version FROM site_content WHERE kind = ?", (kind,)).fetchone()
    return str(row[0]) if row else None


def apply_content(conn: sqlite3.Connection, kind: str, doc: dict[str, Any]) -> bool:
    """Store ``doc`` as the current ``kind`` in one transaction.

    Returns False when that version is already stored (a retained message delivered
    again after a reconnect): nothing is written, the kiosk sees no change.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        if current_version(conn, kind) == doc["version"]:
            conn.execute("ROLLBACK")
            return False
        conn.execute(
            "INSERT INTO site_content (kind, version, body, updated_ts) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(kind) DO UPDATE SET version = excluded.version, "
            "body = excluded.body, updated_ts = excluded.updated_ts",
            (kind, doc["version"], json.dumps(doc, ensure_ascii=False), now_iso()),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def content_result(kind: str, version: str | None, *, applied: bool,
                   error: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "ok": not error, "applied": applied, "ts": now_iso()}
    if version is not None:
        out["version"] = version[:64]
    if error:
        out["error"] = error[:500]
    return out


def command_result(name: str, rid: str | None, *, error: str = "",
                   result: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name[:64], "ok": not error, "ts": now_iso()}
    if rid is not None:
        out["id"] = rid
    if error:
        out["error"] = error[:500]
    if result is not None:
        out["result"] = result
    return out
