"""The event envelope, event types, UUIDv7 ids and the hash chain.

An event is what the counter tells HQ happened. The envelope is fixed (docs/mqtt.md):

    {"v": 1, "id": UUIDv7, "site": str, "device": str, "seq": int, "ts": ISO 8601 UTC,
     "type": str, "data": {...}, "prev": hex, "hash": hex}

``hash`` = SHA-256 over ``prev`` and the canonical JSON of every other field, so HQ can
recompute the chain and notice a deleted or altered record. ``seq`` is per device,
starts at 1 and never repeats, also across restarts (the store keeps it).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ENVELOPE_VERSION = 1
GENESIS = "0" * 64  # the "previous hash" of a device's first event


class EventType(StrEnum):
    DEVICE_BOOT = "device.boot"
    DEVICE_FAULT = "device.fault"
    DEVICE_RECOVERED = "device.recovered"
    OFFICER_SIGNED_IN = "officer.signed_in"
    OFFICER_SIGNED_OUT = "officer.signed_out"
    CASE_STARTED = "case.started"
    CASE_ENDED = "case.ended"
    MIRROR_CONFIRMED = "mirror.confirmed"
    MIRROR_FLAGGED = "mirror.flagged"
    RATING_GIVEN = "rating.given"
    RATING_SKIPPED = "rating.skipped"
    RATING_DETAILS = "rating.details"
    AWAY_STARTED = "away.started"
    AWAY_ENDED = "away.ended"
    TICKET_ISSUED = "ticket.issued"
    TICKET_CALLED = "ticket.called"
    TICKET_RECALLED = "ticket.recalled"
    TICKET_NO_SHOW = "ticket.no_show"
    TICKET_TRANSFERRED = "ticket.transferred"
    SLIP_PRINTED = "slip.printed"
    APPOINTMENT_CHECKED_IN = "appointment.checked_in"
    COMMENT_SUBMITTED = "comment.submitted"
    # Written documents: shown on the mirror, confirmed by the citizen and printed, or
    # withdrawn unconfirmed when the case ended; a promised date moved (限时承诺).
    DOCUMENT_SHOWN = "document.shown"
    DOCUMENT_ISSUED = "document.issued"
    DOCUMENT_WITHDRAWN = "document.withdrawn"
    PROMISE_CHANGED = "promise.changed"
    # An after-hours intake handed on to the next working day's registration queue, and
    # the registration officer calling it there (device/handover.py).
    INTAKE_QUEUED = "intake.queued"
    INTAKE_CALLED = "intake.called"
    # The station queue (station/, device "station" of its site): a station ticket served
    # to its end (its service time), a window away longer than station.away_alert_min,
    # and more waiting (or waiting longer) than the station's crowd thresholds.
    TICKET_DONE = "ticket.done"
    WINDOW_AWAY_TOO_LONG = "window.away_too_long"
    STATION_CROWDED = "station.crowded"


# What a citizen was told we took. These are never shed when the disk fills.
CRITICAL_TYPES = frozenset(
    {
        EventType.RATING_GIVEN,
        EventType.RATING_SKIPPED,
        EventType.RATING_DETAILS,
        EventType.COMMENT_SUBMITTED,
        EventType.CASE_STARTED,
        EventType.CASE_ENDED,
        EventType.MIRROR_CONFIRMED,
        EventType.MIRROR_FLAGGED,
        EventType.TICKET_ISSUED,
        # These two may close the case a called ticket opened (docs/counter-states.md).
        EventType.TICKET_NO_SHOW,
        EventType.TICKET_TRANSFERRED,
        EventType.APPOINTMENT_CHECKED_IN,
        EventType.AWAY_STARTED,
        EventType.AWAY_ENDED,
        EventType.DOCUMENT_ISSUED,
        EventType.PROMISE_CHANGED,
        # The intake receipt told the citizen who handles it on which day.
        EventType.INTAKE_QUEUED,
        EventType.INTAKE_CALLED,
    }
)


@dataclass(frozen=True)
class Draft:
    """An event before the store gives it an id, seq, timestamp and hash."""

    type: EventType
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Envelope:
    id: str
    site: str
    device: str
    seq: int
    ts: str
    type: str
    data: Mapping[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": ENVELOPE_VERSION,
            "id": self.id,
            "site": self.site,
            "device": self.device,
            "seq": self.seq,
            "ts": self.ts,
            "type": self.type,
            "data": dict(self.data),
            "prev": self.prev,
            "hash": self.hash,
        }

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Envelope:
        return cls(
            id=d["id"], site=d["site"], device=d["device"], seq=int(d["seq"]), ts=d["ts"],
            type=d["type"], data=d["data"], prev=d["prev"], hash=d["hash"],
        )


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same bytes on the Pi and at HQ."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# The envelope fields the hash covers (with ``prev``): all of them but ``hash`` itself.
HASHED_FIELDS = ("v", "id", "site", "device", "seq", "ts", "type", "data")


def chain_hash(prev: str, body: Mapping[str, Any]) -> str:
    """Hash of an event: covers the previous hash and every envelope field but ``hash``.

    Keys outside the envelope (a store row's ``sent_at``, a collector's ``received_at``)
    are not part of the event and do not change its hash."""
    return chain_digest(prev, hashed_text(body))


def hashed_text(body: Mapping[str, Any]) -> str:
    """The canonical JSON of the fields the hash covers (HQ stores it, so it encodes an
    event once, not once to check and once to store)."""
    return canonical_json({k: body[k] for k in HASHED_FIELDS if k in body})


def chain_digest(prev: str, text: str) -> str:
    h = hashlib.sha256()
    h.update(prev.encode("ascii"))
    h.update(text.encode("utf-8"))
    return h.hexdigest()


def seal(draft: Draft, *, site: str, device: str, seq: int, prev: str,
         ts: datetime | None = None, event_id: str | None = None) -> Envelope:
    when = (ts or datetime.now(UTC)).astimezone(UTC)
    body: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "id": event_id or uuid7(),
        "site": site,
        "device": device,
        "seq": seq,
        "ts": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "type": str(draft.type),
        "data": dict(draft.data),
    }
    digest = chain_hash(prev, body)
    return Envelope(
        id=body["id"], site=site, device=device, seq=seq, ts=body["ts"], type=body["type"],
        data=body["data"], prev=prev, hash=digest,
    )


def verify_chain(events: list[Mapping[str, Any]], start_prev: str | None = None) -> list[str]:
    """Check seq continuity and the hash chain of one device's events, in seq order.

    Returns a list of problems (empty: the chain verifies). ``start_prev`` is the
    expected ``prev`` of the first event (``GENESIS`` when it has seq 1).
    """
    problems: list[str] = []
    prev = start_prev
    last_seq: int | None = None
    for ev in events:
        seq = int(ev["seq"])
        if last_seq is not None and seq != last_seq + 1:
            problems.append(f"seq gap: {last_seq} -> {seq}")
        if prev is None and seq == 1:
            prev = GENESIS
        if prev is not None and ev["prev"] != prev:
            problems.append(f"seq {seq}: prev does not match the hash of seq {seq - 1}")
        if chain_hash(ev["prev"], ev) != ev["hash"]:
            problems.append(f"seq {seq}: hash does not match its content (altered)")
        prev = ev["hash"]
        last_seq = seq
    return problems


_uuid_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter and random bits.

    The counter keeps ids monotonic within one millisecond in this process.
    """
    global _last_ms, _counter
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter overflow: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | _counter << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=value))
