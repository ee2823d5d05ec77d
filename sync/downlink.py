"""Downlink: site content and device commands from HQ, validated before anything changes.

Every parser here takes raw bytes from the broker and returns a validated document or
raises :class:`ParseError` with a reason (which goes back to HQ on the result topic).
Nothing else escapes: garbage never crashes the sync process (tests fuzz this).
Content is applied in one transaction into ``site_content`` (the store's
:meth:`~device.store_sync.SyncRecords.put_content`; the order of versions is ours); the
kiosk notices through ``PRAGMA data_version``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from device.errors import ParseError
from device.fields import check_text
from device.store import Store
from sync.schema import COMMAND_SCHEMAS, CONTENT_SCHEMAS, MAX_RESEND, validate
from sync.topics import CONTENT_KINDS

MAX_CONTENT_BYTES = 512 * 1024
MAX_COMMAND_BYTES = 8 * 1024
MAX_INT_DIGITS = 20  # 64-bit integers; Python would build (or refuse) a 5000-digit one


class OlderVersion(ParseError):
    """Content older than the stored version: refused unless HQ sent a rollback command."""


def _no_constant(name: str) -> Any:
    raise ParseError(f"{name} is not a number JSON allows; send a finite number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ParseError(f"an integer with {len(text)} digits; integers must fit in 64 bits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"{text[:20]} is out of range; send a finite number")
    return value


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_object(payload: bytes, limit: int, what: str) -> dict[str, Any]:
    if len(payload) > limit:
        raise ParseError(f"{what}: payload is {len(payload)} bytes, the limit is {limit}")
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=_no_constant,
                         parse_int=_bounded_int, parse_float=_finite_float)
    except ParseError as exc:
        raise ParseError(f"{what}: {exc}") from None
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
    doc = json_object(payload, MAX_CONTENT_BYTES, kind)
    validate(doc, CONTENT_SCHEMAS[kind], kind)
    # The kiosk's own reader is the last word: never store a document it would refuse
    # (the holidays reader also checks the dates themselves, which no schema can).
    if kind == "catalogue":
        from device.catalogue import parse_catalogue

        parse_catalogue(doc)
    elif kind == "results":
        from device.results import parse_results

        parse_results(doc)
    elif kind == "holidays":
        from device.holidays import parse_holidays

        parse_holidays(doc)
    return doc


def parse_command(name: str, payload: bytes) -> dict[str, Any]:
    """Validate one device command ``name``."""
    if name not in COMMAND_SCHEMAS:
        raise ParseError(f"unknown command {name!r}; commands are "
                         + ", ".join(sorted(COMMAND_SCHEMAS)))
    doc = json_object(payload, MAX_COMMAND_BYTES, f"command {name}")
    validate(doc, COMMAND_SCHEMAS[name], f"command {name}")
    if name == "resend":
        doc.setdefault("to_seq", doc["from_seq"] + MAX_RESEND - 1)
        if doc["to_seq"] < doc["from_seq"]:
            raise ParseError(f"command {name}: to_seq is below from_seq")
        if doc["to_seq"] - doc["from_seq"] >= MAX_RESEND:
            raise ParseError(f"command {name}: {doc['from_seq']}..{doc['to_seq']} is more "
                             f"than {MAX_RESEND} events; ask in ranges of at most that")
    return doc


def request_id(payload: bytes) -> str | None:
    """The ``id`` of a command that failed validation, if one can be read (for the reply)."""
    try:
        # Lenient on numbers (a 5000-digit one is why the command failed): only the id
        # matters here, so the error result still names the request.
        doc = json.loads(payload.decode("utf-8"), parse_constant=lambda _c: None,
                         parse_int=lambda _t: 0, parse_float=lambda _t: 0.0)
    except (ValueError, RecursionError):  # JSON and UTF-8 errors included
        return None
    rid = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(rid, str):
        return None
    try:
        return check_text(rid[:64], "id", limit=64)
    except ParseError:
        return None  # a lone surrogate would make the reply itself unsendable


_CHUNK = re.compile(r"([0-9]+)")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Order of content versions: numbers as numbers ("2026.11.10" after "2026.11.2",
    "r10" after "r9"), other characters as text."""
    return tuple((0, int(c), "") if c.isdigit() else (1, 0, c)
                 for c in _CHUNK.split(version) if c)


def is_older(version: str, than: str) -> bool:
    return version_key(version) < version_key(than)


def apply_content(store: Store, kind: str, doc: dict[str, Any]) -> bool:
    """Store the validated ``doc`` as the current ``kind`` (one transaction, the store's).

    Returns False when that version is already stored (a retained message delivered
    again after a reconnect): nothing is written, the kiosk sees no change. An older
    version raises :class:`OlderVersion` unless HQ's rollback command named it.
    """
    version = doc["version"]
    done = store.put_content(kind, version, json.dumps(doc, ensure_ascii=False), now_iso(),
                             is_older=is_older)
    if done.older:
        raise OlderVersion(
            f"{kind} version {version!r} is older than the stored "
            f"{done.stored!r}; to go back, HQ sends cmd/rollback "
            f'{{"kind": "{kind}", "version": "{version}"}}')
    return done.applied


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
