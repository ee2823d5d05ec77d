"""The outbox publisher without a broker: real kiosk.db rows in, a recording sink where
the network would be; assertions on the rows and on the messages recorded."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.config import Config
from device.store import Store
from sync.outbox import OutboxPublisher
from sync.stats import Stats
from sync.topics import Topics
from tests.sync.conftest import device_config, fill_outbox
from tests.sync.recorder import RecordingSink

NOT_AUTHORIZED = 135


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return device_config(tmp_path, 1)


@pytest.fixture
def store(cfg: Config) -> Iterator[Store]:
    s = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id,
              check_integrity=False)  # as kiosk-sync opens it
    yield s
    s.close()


def publisher(cfg: Config, store: Store, sink: RecordingSink, *, batch: int = 1,
              clock: float | None = None) -> OutboxPublisher:
    topic = Topics(cfg.mqtt.topic_prefix, cfg.device.site, cfg.device.id).events
    return OutboxPublisher(store, sink, topic, batch=batch,
                           replay_after_s=cfg.mqtt.replay_after_s,
                           clock=(lambda: clock) if clock is not None else time.time,
                           stats=Stats())


def connected(cfg: Config, store: Store, rows: int, sink: RecordingSink | None = None,
              **kw: Any) -> tuple[OutboxPublisher, RecordingSink]:
    """``rows`` events in the outbox, a publisher on ``sink`` just connected and through
    its first pass over them."""
    fill_outbox(cfg, rows)
    sink = sink or RecordingSink()
    pub = publisher(cfg, store, sink, **kw)
    pub.new_connection()
    pub.publish_unsent()
    return pub, sink


def sent(cfg: Config) -> dict[int, bool]:
    """seq -> sent, read from the file on a connection of its own."""
    conn = sqlite3.connect(cfg.db_path)
    try:
        return {s: bool(v) for s, v in conn.execute(
            "SELECT seq, sent_at IS NOT NULL FROM events ORDER BY seq")}
    finally:
        conn.close()


def bodies(cfg: Config) -> dict[int, str]:
    conn = sqlite3.connect(cfg.db_path)
    try:
        return dict(conn.execute("SELECT seq, body FROM events"))
    finally:
        conn.close()


def settle(pub: OutboxPublisher, sink: RecordingSink, reason_code: int = 0) -> None:
    """The broker acknowledges everything recorded; the loop takes the acks and commits."""
    for mid, rc in sink.acks(reason_code):
        pub.ack(mid, rc)
    pub.drain_acks()
    pub.flush_marks(force=True)


def test_batches_carry_the_stored_envelopes_and_are_marked_only_on_a_good_puback(
        cfg: Config, store: Store) -> None:
    pub, sink = connected(cfg, store, 25, batch=10)
    assert pub.drained is False and pub.pending_count == 3 and not pub.has_room
    stored = bodies(cfg)
    msgs = sink.messages
    assert [m.topic for m in msgs] == ["kiosk/v1/s1/w01/events"] * 3
    assert all(m.qos == 1 and not m.retain and not m.replayed for m in msgs)
    # A batch is a JSON array of the stored envelopes, byte for byte.
    assert msgs[0].payload.decode() == "[" + ",".join(stored[s] for s in range(1, 11)) + "]"
    assert [e["seq"] for e in msgs[2].json()] == list(range(21, 26))
    pub.ack(msgs[0].mid, 0)
    pub.ack(msgs[1].mid, NOT_AUTHORIZED)
    pub.ack(msgs[2].mid, 0)
    pub.ack(999, 0)  # a state or health message's: not the outbox's
    pub.drain_acks()
    assert sent(cfg) == dict.fromkeys(range(1, 26), False)  # acked, not yet committed
    pub.flush_marks(force=True)
    assert sent(cfg) == {s: not 11 <= s <= 20 for s in range(1, 26)}
    assert (pub.stats.published, pub.stats.acked, pub.stats.refused,
            pub.stats.marked) == (3, 2, 1, 15)
    assert pub.drained and not pub.busy


def test_a_new_connection_publishes_every_unconfirmed_row_again_as_replayed(
        cfg: Config, store: Store) -> None:
    pub, sink = connected(cfg, store, 6)
    for mid, rc in sink.acks()[:2]:  # the connection drops after two PUBACKs
        pub.ack(mid, rc)
    pub.drain_acks()
    pub.flush_marks(force=True)
    assert [s for s, v in sent(cfg).items() if not v] == [3, 4, 5, 6]
    first = len(sink.messages)
    pub.new_connection()
    assert pub.pending_count == 0
    fill_outbox(cfg, 1)  # written after the connection came: new, not replayed
    pub.publish_unsent()
    again = sink.messages[first:]
    assert [(m.json()["seq"], m.replayed) for m in again] == [
        (3, True), (4, True), (5, True), (6, True), (7, False)]
    settle(pub, sink)
    assert all(sent(cfg).values()) and pub.stats.marked == 7


def test_a_row_older_than_replay_after_s_goes_out_flagged_replayed(
        cfg: Config, store: Store) -> None:
    _pub, sink = connected(cfg, store, 2, clock=time.time() + cfg.mqtt.replay_after_s + 60)
    assert [m.replayed for m in sink.messages] == [True, True]


def test_what_the_sink_refuses_stays_unsent_and_goes_next_time(
        cfg: Config, store: Store) -> None:
    pub, sink = connected(cfg, store, 3, RecordingSink(refuse=True))
    assert sink.messages == [] and pub.pending_count == 0 and pub.has_room
    sink.refuse = False
    pub.publish_unsent()
    assert [m.json()["seq"] for m in sink.messages] == [1, 2, 3]
    settle(pub, sink)
    assert all(sent(cfg).values())


def test_rows_marked_unsent_again_go_out_from_where_they_start(
        cfg: Config, store: Store) -> None:
    pub, sink = connected(cfg, store, 8)
    settle(pub, sink)
    pub.publish_unsent()
    assert pub.drained and len(sink.messages) == 8
    assert store.requeue_range(3, 5) == 3  # HQ's cmd/resend
    pub.rewind(3)
    pub.publish_unsent()
    assert [m.json()["seq"] for m in sink.messages[8:]] == [3, 4, 5]
    assert all(not m.replayed for m in sink.messages[8:])  # asked for: HQ knows
    settle(pub, sink)
    store.requeue_range(6, 8)
    pub.replay(6, 8)  # HQ did not confirm them in time: flagged replayed
    pub.publish_unsent()
    assert [(m.json()["seq"], m.replayed) for m in sink.messages[11:]] == [
        (6, True), (7, True), (8, True)]
    settle(pub, sink)
    assert all(sent(cfg).values())
    assert json.loads(sink.messages[-1].payload)["seq"] == 8
