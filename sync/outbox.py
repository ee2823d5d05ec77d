"""The outbox publisher: unsent events from the store, in batches, through a :class:`Sink`;
marked sent on a good PUBACK, published again on the next connection otherwise.

The outbox (``events.sent_at IS NULL``) is the only source of truth: paho keeps its
session in memory, so each connection starts clean (:meth:`OutboxPublisher.new_connection`)
and simply publishes every unsent row again. A row is marked sent only after its PUBACK
arrived with a reason code below 128 (paho#715: ``publish()`` succeeds even when the
broker's ACL refuses the topic). Duplicates after a reconnect are expected; HQ dedupes
on the event id.

Used by the Syncer's one thread, except :meth:`OutboxPublisher.ack`, which paho's network
thread calls: it only queues.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TypeVar

from device.store import Store
from sync.sink import Sink
from sync.stats import Stats

log = logging.getLogger("sync")


T = TypeVar("T")


def drained(q: queue.SimpleQueue[T]) -> Iterator[T]:
    """What ``q`` holds now, without waiting (the loop thread empties what others put)."""
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return

MAX_PENDING = 4000  # messages handed to paho and not yet acknowledged
PUBLISH_CHUNK = 500  # per step: short bursts, so paho's network thread is not starved
MARK_EVERY_S = 0.1  # group PUBACKs into one commit (synchronous=FULL costs an fsync)
MARK_MAX = 2048
WAKE_ACKS = 1000  # PUBACKs that wake the main loop early (else it wakes every poll_s)


class OutboxPublisher:
    """Publishes the store's unsent events on ``topic`` and marks them sent on PUBACK."""

    def __init__(self, store: Store, sink: Sink, topic: str, *, batch: int = 1,
                 replay_after_s: float = 3600.0, clock: Callable[[], float] = time.time,
                 stats: Stats | None = None) -> None:
        self.store = store
        self.sink = sink
        self.topic = topic
        self.batch = max(1, batch)
        self.replay_after_s = replay_after_s
        self.clock = clock
        self.stats = stats if stats is not None else Stats()
        self.connection = 0  # connections so far (health reports it)
        self._acks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._pending: dict[int, list[int]] = {}  # message id -> the seqs it carries
        self._pending_count = 0
        self._cursor = 0  # the last seq handed to the sink on this connection
        self._more = True  # there may be unsent rows above the cursor
        self._to_mark: list[int] = []
        self._first_unmarked = 0.0
        self._head_at_connect = 0
        self._replay_upto = 0  # events up to here were re-queued for HQ: flag them replayed

    # ------------------------------------------------------------------ what the loop asks

    @property
    def pending_count(self) -> int:
        """Messages handed to the sink and not yet acknowledged."""
        return self._pending_count

    @property
    def has_room(self) -> bool:
        """More may be waiting and the sink can take it."""
        return self._more and self._pending_count < MAX_PENDING

    @property
    def drained(self) -> bool:
        """Everything read so far was acknowledged and nothing more waits to be read."""
        return self._pending_count == 0 and not self._more

    @property
    def busy(self) -> bool:
        """Something is in flight, waits to be marked or may wait to be read."""
        return bool(self._pending_count or self._to_mark or self._more)

    # ------------------------------------------------------------------ connection

    def new_connection(self) -> None:
        """A fresh session: nothing is in flight any more, everything unsent goes again;
        what exists now and was seen before counts as replayed."""
        self.connection += 1
        self._pending.clear()
        self._pending_count = 0
        self._cursor = 0
        self._more = True
        self._head_at_connect = self.store.last_seq()

    def data_changed(self) -> None:
        """The kiosk wrote (``PRAGMA data_version`` moved): there may be new rows."""
        self._more = True

    def rewind(self, from_seq: int) -> None:
        """Rows from ``from_seq`` on were marked unsent again (HQ's cmd/resend)."""
        self._cursor = min(self._cursor, from_seq - 1)
        self._more = True

    def replay(self, first: int, last: int) -> None:
        """``first..last`` were re-queued because HQ did not confirm them: sent again,
        flagged replayed."""
        self.rewind(first)
        self._replay_upto = max(self._replay_upto, last)

    # ------------------------------------------------------------------ publishing

    def publish_unsent(self) -> None:
        """Hand the sink the next unsent rows, up to what may be in flight."""
        room = min(PUBLISH_CHUNK, MAX_PENDING - self._pending_count)
        batch = self.batch
        rows = self.store.unsent_after(self._cursor, room * batch)
        self._more = len(rows) == room * batch
        if not rows:
            return
        # Stored ts are all "YYYY-MM-DDTHH:MM:SS.mmmZ": comparing strings is comparing times.
        cutoff = datetime.fromtimestamp(self.clock() - self.replay_after_s, UTC
                                        ).isoformat(timespec="milliseconds").replace(
                                            "+00:00", "Z")
        reconnected = self.connection > 1
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            first_seq, first_ts = chunk[0][0], chunk[0][1]
            replayed = (reconnected and first_seq <= self._head_at_connect) or (
                first_ts < cutoff) or first_seq <= self._replay_upto
            # A batch is a JSON array of the stored envelopes, byte for byte.
            payload = chunk[0][2] if batch == 1 else "[" + ",".join(r[2] for r in chunk) + "]"
            mid = self.sink.publish(self.topic, payload.encode("utf-8"), qos=1,
                                    replayed=replayed)
            if mid is None:  # not taken: the same rows again next step
                self._more = True
                return
            self._pending[mid] = [r[0] for r in chunk]
            self._pending_count += 1
            self._cursor = chunk[-1][0]
            self.stats.published += 1

    # ------------------------------------------------------------------ acknowledgements

    def ack(self, mid: int, reason_code: int) -> bool:
        """A PUBACK (any thread); True when enough are queued to be worth waking for."""
        self._acks.put((mid, reason_code))
        return self._acks.qsize() >= WAKE_ACKS

    def drain_acks(self) -> None:
        for mid, rc in drained(self._acks):
            seqs = self._pending.pop(mid, None)
            if seqs is None:
                continue  # state, health or a result message
            self._pending_count -= 1
            if rc >= 128:
                # Refused (ACL, quota, payload): the rows stay unsent; the next connection
                # tries again. Logged, never marked.
                self.stats.refused += 1
                log.error("broker refused events seq %d..%d on %s: reason code %d",
                          seqs[0], seqs[-1], self.topic, rc)
                continue
            self.stats.acked += 1
            if not self._to_mark:
                self._first_unmarked = time.monotonic()
            self._to_mark.extend(seqs)

    def flush_marks(self, *, force: bool = False) -> None:
        """Commit the acknowledged rows as sent, grouped (or now, with ``force``)."""
        if not self._to_mark:
            return
        if not force and len(self._to_mark) < MARK_MAX and (
                time.monotonic() - self._first_unmarked < MARK_EVERY_S):
            return
        seqs, self._to_mark = self._to_mark, []
        self.store.mark_sent(seqs)
        self.stats.marked += len(seqs)
