"""The counters' answers on ``{prefix}/{site}/{device}/content/{kind}/result``, recorded by
the collector: the latest answer per counter and kind, and the newest version it applied
(a refusal of a later version does not hide what the counter still shows)."""

from __future__ import annotations

from typing import Any

from device.errors import ParseError
from hq.db import HqDb, now_iso
from sync.downlink import json_object
from sync.schema import CONTENT_RESULT_SCHEMA, validate

MAX_RESULT_BYTES = 4096


def result_topic(prefix: str, topic: str) -> tuple[str, str, str] | None:
    """(site, device, kind) of a content result topic; None for any other topic."""
    parts = topic[len(prefix) + 1:].split("/") if topic.startswith(prefix + "/") else []
    if len(parts) == 5 and parts[2] == "content" and parts[4] == "result":
        return parts[0], parts[1], parts[3]
    return None


def parse_result(payload: bytes, kind: str) -> dict[str, Any]:
    doc = json_object(payload, MAX_RESULT_BYTES, f"content {kind} result")
    validate(doc, CONTENT_RESULT_SCHEMA, f"content {kind} result")
    if doc["kind"] != kind:
        raise ParseError(f"content result names kind {doc['kind']!r} on the {kind!r} topic")
    return doc


def record(db: HqDb, site: str, device: str, doc: dict[str, Any]) -> None:
    """Upsert one answer (the same SQL on SQLite and PostgreSQL)."""
    version = str(doc.get("version", ""))
    ok = 1 if doc["ok"] else 0
    applied = version if doc["ok"] else ""
    db.execute(
        "INSERT INTO hq_content_results (site, device, kind, version, ok, error, "
        "applied_version, ts, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (site, device, kind) DO UPDATE SET version = excluded.version, "
        "ok = excluded.ok, error = excluded.error, ts = excluded.ts, "
        "received_at = excluded.received_at, applied_version = CASE "
        "WHEN excluded.applied_version <> '' THEN excluded.applied_version "
        "ELSE hq_content_results.applied_version END",
        (site, device, doc["kind"], version, ok, str(doc.get("error", "")), applied,
         doc["ts"], now_iso()))
