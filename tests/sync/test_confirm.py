"""End to end, the counter's side (sync/confirm.py): HQ's confirmed seq is kept in the
store and guards retention; events the broker acknowledged and then lost are published
again (replayed) after mqtt.confirm_timeout_s, from the confirmed seq on, in bounded
rounds that back off while HQ does not move."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from device.config import loads
from device.errors import ConfigError
from sync import confirm
from sync.uplink import Syncer
from tests.sync.conftest import Hq, Running, fill_outbox, unsent, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    HQ_HOLDS_S,
    HQ_PASSWORD,
    SITE,
    Raw,
    ShippedBroker,
    cert_device,
    fabric_fixture,
    hq_collector,
)


def _confirm(s: Syncer, payload: bytes) -> None:
    assert s.handle_message(s.topics.confirmed, payload) is None  # no reply


def _age_sent(s: Syncer, seconds: float) -> None:
    """Pretend every sent row was acknowledged ``seconds`` ago (the clock at the boundary)."""
    from datetime import UTC, datetime, timedelta

    old = (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    conn = sqlite3.connect(s.db_path)
    conn.execute("UPDATE events SET sent_at = ? WHERE sent_at IS NOT NULL", (old,))
    conn.commit()
    conn.close()


def test_confirmations_are_kept_checked_and_guard_retention(syncer: Syncer) -> None:
    fill_outbox(syncer.cfg, 10)
    syncer.store.mark_sent(list(range(1, 11)))
    assert syncer.store.hq_confirmed() is None
    _confirm(syncer, b'{"upto": 4, "ts": "2026-12-02T06:00:00.000Z"}')
    assert syncer.store.hq_confirmed() == 4
    for bad in (b'{"upto": NaN, "ts": "2026-12-02T06:00:00Z"}',
                b'{"upto": ' + b"9" * 5000 + b', "ts": "2026-12-02T06:00:00Z"}',
                b'{"upto": "7", "ts": "2026-12-02T06:00:00Z"}',
                b'{"upto": 99, "ts": "2026-12-02T06:00:00Z"}',  # beyond the head
                b'{"upto": 5, "ts": "2026-12-02\\n"}', b"[]", b"\xff", b""):
        _confirm(syncer, bad)
        assert syncer.store.hq_confirmed() == 4, bad
    _age_sent(syncer, 40 * 86400)
    assert syncer.store.prune_sent(32) == 4  # seq 1..4: confirmed; 5..10 stay
    assert [r[0] for r in syncer.store.conn.execute("SELECT seq FROM events")] == list(range(5, 11))


def test_rounds_start_at_the_confirmed_seq_are_bounded_and_back_off(syncer: Syncer) -> None:
    fill_outbox(syncer.cfg, confirm.BURST + 500)
    syncer.store.mark_sent(list(range(1, confirm.BURST + 501)))
    c = syncer.confirmations
    assert c.due(0.0) == (0, 0)  # HQ never confirmed: nothing is re-sent
    _confirm(syncer, b'{"upto": 100, "ts": "2026-12-02T06:00:00.000Z"}')
    assert c.due(1.0) == (0, 0)  # acknowledged just now: HQ may still be storing them
    _age_sent(syncer, c.base_s + 1)
    assert c.due(2.0) == (101, 100 + confirm.BURST)  # one bounded burst
    assert c.due(2.1) == (0, 0)  # checked at most every min(1 s, timeout / 2)
    assert c.due(5.0) == (101 + confirm.BURST, confirm.BURST + 500)  # the rest
    assert unsent(syncer.cfg) == confirm.BURST + 400
    syncer.store.mark_sent(list(range(1, confirm.BURST + 501)))
    _age_sent(syncer, c.base_s + 1)
    assert c.due(10.0)[0] == 101  # HQ did not move: a second round ...
    assert c.wait_s == 2 * c.base_s  # ... and the next one waits twice as long
    syncer.store.mark_sent(list(range(1, confirm.BURST + 501)))
    _age_sent(syncer, c.base_s + 1)
    assert c.due(20.0) == (0, 0)
    _confirm(syncer, b'{"upto": 2500, "ts": "2026-12-02T06:00:05.000Z"}')
    assert c.wait_s == c.base_s  # HQ moves again: back to the configured timeout


def test_confirm_timeout_has_a_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mqtt.confirm_timeout_s: 0.5 is below the minimum"):
        loads("[mqtt]\nconfirm_timeout_s = 0.5\n")
    assert loads("[mqtt]\nconfirm_timeout_s = 8\n").mqtt.confirm_timeout_s == 8


@pytest.mark.broker
def test_events_the_broker_acknowledged_and_lost_reach_hq_again(
        tmp_path: Path, fabric: ShippedBroker, running: list[Running]) -> None:
    """Nobody subscribed while the counter drained (as after Mosquitto 2.0.11 restarts
    and restores a collector's session without its shared subscription): the broker
    acknowledged 100 events and dropped them. HQ's confirmation says what it holds; the
    counter publishes the rest again, flagged replayed, and stops once HQ confirms."""
    cfg = cert_device(tmp_path, fabric, SITE, "demo-w01")
    cfg = dataclasses.replace(cfg, mqtt=dataclasses.replace(cfg.mqtt, confirm_timeout_s=1.0))
    fill_outbox(cfg, 100)
    r = Running(cfg)
    running.append(r)
    assert r.syncer.idle.wait(30) and unsent(cfg) == 0  # all PUBACKed, all lost
    col, store = hq_collector(tmp_path, fabric)
    hq = Hq(tmp_path / "hq.db", store, col)
    confirmer = Raw(fabric, "hq-confirmer", user="kiosk-hq", password=HQ_PASSWORD)
    topic = f"kiosk/v1/{SITE}/demo-w01/confirmed"
    try:
        assert confirmer.connack() == 0
        # HQ holds nothing of this counter (its stand-in for hqin's confirmations).
        assert confirmer.publish(topic, {"upto": 0, "ts": "2026-12-02T06:00:00.000Z"},
                                 retain=True) < 128
        assert hq.wait_count(100, HQ_HOLDS_S), hq.count()
        hq.assert_complete(cfg)
        assert hq.replayed() == 100  # flagged, so reports can tell late from live
        assert confirmer.publish(topic, {"upto": 100, "ts": "2026-12-02T06:00:09.000Z"},
                                 retain=True) < 128
        assert until(lambda: r.syncer.store.hq_confirmed() == 100)
        assert r.syncer.confirmations.requeued >= 100
        assert hq.collector.connected.is_set() and r.syncer.stats.connections == 1
    finally:
        confirmer.close()
        col.stop()
        store.close()
