"""The downlink router without a broker: messages fed straight to it (as paho-mqtt's and
Home Assistant's tests feed theirs), a recording sink where the network would be, a real
kiosk.db; assertions on the rows and on what it published."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device.config import Config
from device.store import Store
from sync.confirm import Confirmations
from sync.health import Reporter
from sync.outbox import OutboxPublisher
from sync.router import DownlinkRouter
from sync.stats import Stats
from sync.topics import Topics
from tests.sync.conftest import device_config, fill_outbox
from tests.sync.recorder import RecordingSink

CATALOGUE = {"version": "2026.11.10", "title": "办事指南", "services": [
    {"code": "id_card.renew", "name": "居民身份证换领", "materials": ["原身份证"],
     "fees": [{"item": "工本费", "yuan": 20, "basis": "价格文件"}]}]}


@dataclass
class Parts:
    cfg: Config
    store: Store
    sink: RecordingSink
    outbox: OutboxPublisher
    router: DownlinkRouter
    topics: Topics

    def send(self, topic: str, doc: Any) -> dict[str, Any]:
        out = self.router.handle(topic, json.dumps(doc).encode())
        assert out is not None
        return out[1]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the file on a connection of its own, as the kiosk would."""
        conn = sqlite3.connect(self.cfg.db_path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    cfg = device_config(tmp_path, 1)
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id,
                  check_integrity=False)
    topics = Topics(cfg.mqtt.topic_prefix, cfg.device.site, cfg.device.id)
    sink, stats = RecordingSink(), Stats()
    outbox = OutboxPublisher(store, sink, topics.events, stats=stats)
    reporter = Reporter(store, topics, sink, outbox, clock=time.time, online=lambda: True)
    router = DownlinkRouter(store, topics, sink, outbox=outbox, reporter=reporter,
                            confirmations=Confirmations(store, 60.0), stats=stats)
    yield Parts(cfg, store, sink, outbox, router, topics)
    store.close()


def test_content_is_stored_answered_and_announced_in_the_state(parts: Parts) -> None:
    t = parts.topics
    res = parts.send(t.content("catalogue"), CATALOGUE)
    assert res["ok"] and res["applied"] and res["version"] == "2026.11.10"
    (reply,) = parts.sink.on(t.content_result("catalogue"))
    assert reply.qos == 1 and not reply.retain and reply.json() == res
    (state,) = parts.sink.on(t.state)
    assert state.retain and state.json()["catalogue_version"] == "2026.11.10"
    assert parts.rows("SELECT kind, version FROM site_content") == [
        ("catalogue", "2026.11.10")]
    # The retained message again (a reconnect): answered, nothing written, state unchanged.
    assert not parts.send(t.content("catalogue"), CATALOGUE)["applied"]
    assert len(parts.sink.on(t.state)) == 1
    assert parts.router.stats.content_applied == 1


def test_an_older_version_waits_for_hqs_rollback_order(parts: Parts) -> None:
    t = parts.topics
    parts.send(t.content("catalogue"), CATALOGUE)
    older = {**CATALOGUE, "version": "2026.11.9"}
    res = parts.send(t.content("catalogue"), older)
    assert not res["ok"] and "older than the stored '2026.11.10'" in res["error"]
    assert parts.rows("SELECT version FROM site_content") == [("2026.11.10",)]
    res = parts.send(t.command("rollback"), {"id": "rb", "kind": "catalogue",
                                             "version": "2026.11.9"})
    assert res["result"] == {"kind": "catalogue", "version": "2026.11.9", "applied": True}
    assert [m.json()["ok"] for m in parts.sink.on(t.content_result("catalogue"))] == [
        True, False, True]
    assert parts.sink.on(t.state)[-1].json()["catalogue_version"] == "2026.11.9"
    assert parts.rows("SELECT version FROM site_content") == [("2026.11.9",)]
    assert parts.rows("SELECT * FROM meta WHERE key LIKE 'rollback:%'") == []  # used up


def test_resend_requeues_the_range_and_the_outbox_sends_it_again(parts: Parts) -> None:
    fill_outbox(parts.cfg, 10)
    parts.store.mark_sent(list(range(1, 11)))
    parts.outbox.new_connection()
    parts.outbox.publish_unsent()
    assert parts.sink.on(parts.topics.events) == []
    res = parts.send(parts.topics.command("resend"), {"id": "q", "from_seq": 4, "to_seq": 6})
    assert res["result"] == {"requeued": 3}
    assert parts.rows("SELECT seq FROM events WHERE sent_at IS NULL") == [(4,), (5,), (6,)]
    parts.outbox.publish_unsent()
    assert [m.json()["seq"] for m in parts.sink.on(parts.topics.events)] == [4, 5, 6]


def test_hqs_confirmation_is_kept_and_a_bad_one_changes_nothing(parts: Parts) -> None:
    fill_outbox(parts.cfg, 5)
    confirmed = parts.topics.confirmed
    ts = b'"ts": "2026-12-02T06:00:00.000Z"'
    assert parts.router.handle(confirmed, b'{"upto": 3, ' + ts + b"}") is None
    assert parts.rows("SELECT value FROM meta WHERE key = 'hq_confirmed'") == [("3",)]
    for bad in (b'{"upto": 9, ' + ts + b"}", b"garbage", b""):  # beyond our head, not JSON, cleared
        assert parts.router.handle(confirmed, bad) is None
    assert parts.store.hq_confirmed() == 3 and parts.router.stats.confirmations == 1
    assert parts.sink.messages == []  # nothing is answered: HQ reads our health


def test_commands_for_state_and_health_publish_them(parts: Parts) -> None:
    fill_outbox(parts.cfg, 2)
    t = parts.topics
    for _ in range(2):  # asked twice: published twice, unchanged or not
        assert parts.send(t.command("publish_state"), {"id": "s"})["ok"]
    assert len(parts.sink.on(t.state)) == 2
    assert parts.send(t.command("publish_health"), {"id": "h"})["ok"]
    (health,) = parts.sink.on(t.health)
    assert health.qos == 0 and health.json()["outbox_depth"] == 2
    assert health.json()["head_seq"] == 2 and health.json()["inflight"] == 0


def test_unexpected_topics_are_ignored(parts: Parts) -> None:
    t = parts.topics
    for topic in (t.root + "/cmd/ping/extra", t.root + "/content/secrets", "other/topic"):
        assert parts.router.handle(topic, b'{"id": "x"}') is None
    assert parts.sink.messages == []
