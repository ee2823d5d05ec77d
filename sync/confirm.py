"""End to end, the counter's side: HQ's confirmation and re-publishing what HQ lacks.

A PUBACK says only that the broker took a message; Mosquitto can still lose it (2.0.11
restores a collector's session after a restart but not its shared subscription, and a
full queue drops). HQ publishes on ``Topics.confirmed`` (retained) the highest seq up to
which it holds every event of this counter. kiosk-sync keeps that number in the store
(retention never prunes above it) and, when events were sent ``mqtt.confirm_timeout_s``
ago and HQ still has not confirmed them, marks them unsent again from the confirmed seq
on, at most ``BURST`` per check; they go out with the ``replayed`` flag. While HQ does
not move, each new round waits twice as long (up to ``MAX_WAIT_S``), so a counter never
floods a broker whose collector is away; the first confirmation that moves resets it.
Re-publishing is armed once HQ has confirmed anything: an HQ that never confirms gets
what it always got (the health message and its gap repair).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from device.errors import ParseError
from device.store import Store
from sync.downlink import MAX_COMMAND_BYTES, json_object
from sync.schema import CONFIRMED_SCHEMA, validate

log = logging.getLogger("sync")

BURST = 2000  # events re-queued per check
MAX_WAIT_S = 300.0


def parse_confirmed(payload: bytes) -> int:
    """``upto`` of one confirmation message, or :class:`ParseError`."""
    doc = json_object(payload, MAX_COMMAND_BYTES, "confirmed")
    validate(doc, CONFIRMED_SCHEMA, "confirmed")
    return int(doc["upto"])


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Confirmations:
    """What HQ confirmed, and when to send the rest again. Used by the sync thread only."""

    def __init__(self, store: Store, timeout_s: float) -> None:
        self.store = store
        self.base_s = timeout_s
        self.wait_s = timeout_s
        self.upto = store.hq_confirmed()
        self.requeued = 0  # events marked unsent again (stats, tests)
        self._next_check = 0.0
        self._round_upto: int | None = None  # confirmed seq when the last round began

    def update(self, upto: int) -> None:
        """HQ's new confirmation (also a lower one: HQ is the authority on what it holds)."""
        head = self.store.head()[0]
        if upto > head:
            raise ParseError(f"confirmed: upto {upto} is beyond this counter's last seq "
                             f"{head}; ignored")
        if self.upto is None or upto > self.upto:
            self.wait_s = self.base_s  # HQ is moving again
        if upto != self.upto:
            self.store.set_hq_confirmed(upto)
            self.upto = upto

    def due(self, now_mono: float) -> tuple[int, int]:
        """Re-queue what waited too long for HQ; returns the (first, last) seq re-queued."""
        if self.upto is None or now_mono < self._next_check:
            return 0, 0
        self._next_check = now_mono + min(1.0, self.base_s / 2)
        cutoff = _iso(datetime.now(UTC) - timedelta(seconds=self.wait_s))
        first, last = self.store.requeue_unconfirmed(self.upto, cutoff, BURST)
        if not last:
            return 0, 0
        self.requeued += last - first + 1
        if first == self.upto + 1:  # a new round from the confirmed seq on
            if self._round_upto == self.upto:
                self.wait_s = min(MAX_WAIT_S, self.wait_s * 2)  # HQ did not move
            self._round_upto = self.upto
            log.warning("HQ confirmed only up to seq %d: publishing seq %d.. again "
                        "(next round after %.0fs without progress)", self.upto, first,
                        self.wait_s)
        return first, last
