"""What the collector does with hostile payloads, a forged chain, its sessions and repair.

A plain Mosquitto (tests/sync/conftest.py; the broker's ACL attacks are in
test_sync_acl.py): here the attacker can publish anything on its own counter's topics,
which is what a counter in the wrong hands can always do. After each attack HQ holds
every genuine event exactly once (within the stated time), no forged work order exists,
and the collector is still up and collecting for everyone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from device.events import Draft, EventType, seal
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore
from kiosk.sync_cli import main_hq
from tests.sync.conftest import (
    Hq,
    Mosquitto,
    Running,
    WatchedCollectorStats,
    device_config,
    device_events,
    fill_outbox,
    until,
)

pytestmark = pytest.mark.broker

GENUINE_S = 30.0  # every genuine event is at HQ within this long of being published


class Raw:
    """A bare MQTT 5 client: what an attacker with a counter's credentials runs."""

    def __init__(self, port: int, client_id: str = "attacker") -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.got: list[mqtt.MQTTMessage] = []
        self.arrived = threading.Condition()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.arrived:
            self.got.append(msg)
            self.arrived.notify_all()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1,
                retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(10)

    def wait(self, pred: Callable[[list[mqtt.MQTTMessage]], bool], timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: pred(self.got), timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def raw(broker: Mosquitto) -> Iterator[Callable[..., Raw]]:
    made: list[Raw] = []

    def make(client_id: str = "attacker") -> Raw:
        r = Raw(broker.port, client_id)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def rating(i: int, officer: str = "000001") -> Draft:
    return Draft(EventType.RATING_GIVEN, {"case_no": f"X{i}", "officer": officer,
                                          "level": "unsatisfied", "unsatisfied": True})


def work_order_ids(db: Path) -> set[str]:
    store = HqStore.open(str(db))
    try:
        return {str(w[0]) for w in store.work_orders()}
    finally:
        store.close()


def genuine_orders(*cfgs: Any) -> set[str]:
    return {str(e["id"]) for cfg in cfgs for e in device_events(cfg)
            if e["type"] == "rating.given" and e["data"].get("unsatisfied")}


HOSTILE = [
    # (leaf, payload) on the attacker's own counter s1/w01
    ("events", lambda ev: json.dumps({**ev, "seq": 2**63})),
    ("events", lambda ev: json.dumps({**ev, "data": {"r": "x"}}).replace('"x"', '"\\ud800"')),
    ("events", lambda ev: json.dumps({**ev, "prev": "é" * 64}, ensure_ascii=False)),
    ("events", lambda ev: json.dumps(ev).replace('"seq": 1', '"seq": ' + "9" * 5000)),
    ("events", lambda ev: json.dumps({**ev, "ts": "2026-11-02T99:99:99.000Z"})),
    ("events", lambda ev: json.dumps({**ev, "data": {"waited_s": "x"}}).replace(
        '"x"', "NaN")),
    ("events", lambda ev: json.dumps([ev] * 1500)),  # a batch too long (~500 kB)
    ("events", lambda ev: json.dumps([ev] * 5000)),  # a payload too big (~2 MB)
    ("events", lambda ev: b"\xff\xfe"),
    ("state", lambda ev: '{"online": true, "n": ' + "7" * 5000 + "}"),
    ("health", lambda ev: '{"head_seq": ' + "7" * 5000 + "}"),
    ("state", lambda ev: '{"online": true, "officer": "\\udcff"}'),
    ("health", lambda ev: "[1, 2]"),
]


def test_no_hostile_message_stops_collection_and_each_is_quarantined(
        tmp_path: Path, broker: Mosquitto, hq: Hq, raw: Callable[..., Raw],
        running: list[Running], capsys: Any) -> None:
    victim = device_config(tmp_path, broker.port, site="s1", device="w01")
    other = device_config(tmp_path / "b", broker.port, site="s2", device="w01")
    fill_outbox(victim, 40, unsatisfied_every=7)
    fill_outbox(other, 40, unsatisfied_every=5)
    template = seal(rating(1), site="s1", device="w01", seq=1, prev="0" * 64).to_dict()
    attacker = raw()
    for leaf, make in HOSTILE:
        payload = make(template)
        attacker.publish(f"kiosk/v1/s1/w01/{leaf}",
                         payload.encode() if isinstance(payload, str) else payload)
    # Every hostile message is quarantined before the genuine traffic starts.
    assert hq.collector.wait_for(lambda c: c.stats.rejected >= len(HOSTILE), 20), (
        hq.collector.stats)
    running.append(Running(victim))
    running.append(Running(other))
    assert hq.wait_count(80, timeout=GENUINE_S), hq.count()
    hq.assert_complete(victim)
    hq.assert_complete(other)
    assert work_order_ids(hq.db_path) == genuine_orders(victim, other)
    assert hq.collector._writer is not None and hq.collector._writer.is_alive()
    assert hq.collector.connected.is_set()
    # The quarantine names the counter and the reason; status shows it and exits 1.
    store = HqStore.open(str(hq.db_path))
    reasons = [(q[0], q[1], q[3]) for q in store.quarantined()]
    store.close()
    assert len(reasons) == len(HOSTILE)
    assert all(site == "s1" and device == "w01" for site, device, _r in reasons)
    text = " | ".join(r for _s, _d, r in reasons)
    for expected in ("does not fit in 64 bits", "lone surrogate", "over the limit",
                     "'prev' is not a valid prev", "digits", "not a real time",
                     "NaN is not a JSON number", "at most 1000", "not UTF-8",
                     "must be a JSON object"):
        assert expected in text, text
    capsys.readouterr()
    assert main_hq(["status", "--db", str(hq.db_path)]) == 1
    out = capsys.readouterr().out
    assert f"quarantined messages: {len(HOSTILE)}" in out
    assert "s1/w01: 40 events, verified to seq 40 of 40" in out
    assert "s2/w01: 40 events, verified to seq 40 of 40" in out


def test_a_forged_chain_opens_no_work_order_and_never_taints_the_real_one(
        tmp_path: Path, broker: Mosquitto, hq: Hq, raw: Callable[..., Raw],
        running: list[Running], capsys: Any) -> None:
    cfg = device_config(tmp_path, broker.port, site="s1", device="w01")
    fill_outbox(cfg, 20, unsatisfied_every=4)
    r = Running(cfg)
    running.append(r)
    assert hq.wait_count(20, timeout=GENUINE_S)
    evs = device_events(cfg)
    attacker = raw()
    # A replay of a real seq under a new id (valid hash), a wrong prev at the next seq
    # against another officer, and a forged seq far ahead.
    replay = seal(rating(5, "000009"), site="s1", device="w01", seq=5,
                  prev=str(evs[3]["hash"])).to_json()
    wrong = seal(rating(21, "000009"), site="s1", device="w01", seq=21,
                 prev="a" * 64).to_json()
    jump = seal(rating(99, "000009"), site="s1", device="w01", seq=2**40,
                prev=str(evs[-1]["hash"])).to_json()
    for payload in (replay, wrong, jump):
        attacker.publish("kiosk/v1/s1/w01/events", payload)
    assert hq.collector.wait_for(lambda c: c.stats.new >= 23, 20)
    # The real counter carries on: its next events verify past the forged seq 21.
    fill_outbox(cfg, 10, unsatisfied_every=3)
    assert hq.wait_count(30, timeout=GENUINE_S)
    hq.assert_complete(cfg, problems=3)
    assert work_order_ids(hq.db_path) == genuine_orders(cfg)
    capsys.readouterr()
    assert main_hq(["status", "--db", str(hq.db_path)]) == 1
    out = capsys.readouterr().out
    assert "seq 5: replay" in out and "seq 21: chain" in out
    assert f"seq {2**40}: jump" in out
    assert "verified to seq 30 of 30, gaps none" in out


def test_a_storage_fault_in_one_message_quarantines_it_and_the_writer_lives_on(
        tmp_path: Path, broker: Mosquitto, hq: Hq, raw: Callable[..., Raw]) -> None:
    # A real database fault for exactly one event: a trigger that aborts its insert.
    bad = seal(rating(1), site="s9", device="w01", seq=1, prev="0" * 64).to_dict()
    hq.store.db.execute(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON hq_events WHEN NEW.id = '"
        + bad["id"] + "' BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    good = [seal(Draft(EventType.TICKET_ISSUED, {}), site="s8", device="w01", seq=1,
                 prev="0" * 64).to_dict()]
    attacker = raw()
    attacker.publish("kiosk/v1/s9/w01/events", json.dumps(bad))
    attacker.publish("kiosk/v1/s8/w01/events", json.dumps(good))
    assert hq.wait_count(1, timeout=20)
    assert hq.collector.wait_for(lambda c: c.stats.rejected == 1, 10)
    assert "disk says no" in hq.collector.stats.rejects[0]
    assert hq.collector._writer is not None and hq.collector._writer.is_alive()
    assert hq.collector.heartbeat.alive()


def test_confirmations_are_retained_per_counter_after_each_commit(
        tmp_path: Path, broker: Mosquitto, hq: Hq, raw: Callable[..., Raw],
        running: list[Running]) -> None:
    a = device_config(tmp_path, broker.port, site="east", device="w01")
    b = device_config(tmp_path / "b", broker.port, site="west", device="w01")
    fill_outbox(a, 30)
    fill_outbox(b, 12)
    running += [Running(a), Running(b)]
    assert hq.wait_count(42, timeout=GENUINE_S)
    watcher = raw("watcher")
    watcher.subscribe("kiosk/v1/+/+/confirmed")  # retained: the latest arrives at once

    def latest(msgs: list[mqtt.MQTTMessage]) -> dict[str, int]:
        return {m.topic: json.loads(m.payload)["upto"] for m in msgs}

    assert watcher.wait(lambda m: latest(m) == {"kiosk/v1/east/w01/confirmed": 30,
                                                "kiosk/v1/west/w01/confirmed": 12}, 10), (
        latest(watcher.got))
    late = raw("late-watcher")  # a counter connecting later gets them from the broker
    late.subscribe("kiosk/v1/+/+/confirmed")
    assert late.wait(lambda m: latest(m) == {"kiosk/v1/east/w01/confirmed": 30,
                                             "kiosk/v1/west/w01/confirmed": 12}, 10)
    assert all(m.retain for m in late.got)


def test_gap_repair_asks_once_for_the_whole_range_while_it_is_outstanding(
        tmp_path: Path, broker: Mosquitto, hq_factory: Callable[..., Hq],
        raw: Callable[..., Raw]) -> None:
    hq = hq_factory(broker.port)  # repair every 0.5 s, resend timeout 60 s
    device = raw("fake-w01")
    device.subscribe("kiosk/v1/s1/w01/cmd/resend")
    prev, evs = "0" * 64, []
    for i in range(1, 501):
        env = seal(Draft(EventType.TICKET_ISSUED, {}), site="s1", device="w01", seq=i,
                   prev=prev)
        prev = env.hash
        evs.append(env.to_json())
    for i in (*range(0, 10), 499):  # seq 11..499 "lost by the broker"
        device.publish("kiosk/v1/s1/w01/events", evs[i])
    assert hq.wait_count(11, timeout=20)
    assert device.wait(lambda m: len(m) >= 1, 10)
    passes = hq.collector.stats.repairs
    assert until(lambda: hq.collector.stats.repairs >= passes + 6, 20)
    asks = [json.loads(m.payload) for m in device.got]
    assert [(a["from_seq"], a["to_seq"]) for a in asks] == [(11, 499)]
    # The device answers with the whole range in one go; nothing is asked again.
    for i in range(10, 499):
        device.publish("kiosk/v1/s1/w01/events", evs[i], qos=1)
    assert hq.wait_count(500, timeout=20)
    status = next(r for r in hq.store.integrity() if r["site"] == "s1")
    assert status["verified_seq"] == 500 and status["gaps"] == []
    assert len(device.got) == 1


def test_a_stopped_collector_takes_no_share_and_its_id_cannot_be_taken_over(
        tmp_path: Path, broker: Mosquitto, hq_factory: Callable[..., Hq],
        raw: Callable[..., Raw], running: list[Running]) -> None:
    a = hq_factory(broker.port, client_id="kiosk-hq-box", db=tmp_path / "a.db")
    b = hq_factory(broker.port, client_id="kiosk-hq-box", db=tmp_path / "b.db")
    assert a.collector.client_id != b.collector.client_id  # random suffix per start
    assert a.collector.client_id.startswith("kiosk-hq-box-")
    # The predictable part of the id takes nothing over.
    raw("kiosk-hq-box")
    a.collector.stop()
    cfg = device_config(tmp_path, broker.port)
    fill_outbox(cfg, 100)
    running.append(Running(cfg))
    assert b.wait_count(100, timeout=GENUINE_S), b.count()
    b.assert_complete(cfg)
    assert b.collector.stats.connects == 1 and b.collector.connected.is_set()


def test_the_collector_resubscribes_after_a_broker_restart(
        tmp_path: Path, broker: Mosquitto, tmp_path_factory: Any,
        running: list[Running]) -> None:
    store = HqStore.open(str(tmp_path / "hq.db"))
    # No repair during the test: what arrives came through the new subscription.
    col = Collector(store, BrokerOptions(port=broker.port, client_id="hq-r"),
                    repair_s=3600)
    col.stats = WatchedCollectorStats()  # its counters wake ``until``
    col.start()
    try:
        assert col.subscribed.wait(10)
        broker.restart()
        assert until(lambda: col.stats.connects >= 2, 20)
        assert col.subscribed.wait(20)  # cleared on the disconnect, set on resubscribing
        cfg = device_config(tmp_path, broker.port)
        fill_outbox(cfg, 50)
        running.append(Running(cfg))
        assert col.wait_for(lambda c: c.stats.new >= 50, GENUINE_S), col.stats
    finally:
        col.stop()
        store.close()


def _openssl(*args: str, cwd: Path) -> None:
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, int, Path]]:
    """A TLS listener that requires a client certificate; the server's is for 127.0.0.1."""
    import shutil

    from tests.sync.conftest import free_port

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    pki = tmp_path / "pki"
    pki.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt", cwd=pki)
    (pki / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn, ext in (("server", "127.0.0.1", ("-extfile", "server.ext")),
                          ("kiosk-hq", "kiosk-hq", ())):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout",
                 f"{name}.key", "-out", f"{name}.csr", cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *ext, cwd=pki)
    port = free_port()
    b = Mosquitto(tmp_path / "tls-broker", extra=(
        f"allow_anonymous false\nlistener {port} 127.0.0.1\ncafile {pki}/ca.crt\n"
        f"certfile {pki}/server.crt\nkeyfile {pki}/server.key\nrequire_certificate true\n"
        "use_identity_as_username true\n"))
    b.start()
    yield b, port, pki
    b.stop()


def _tls_collector(tmp_path: Path, port: int, pki: Path, host: str,
                   cert: bool) -> Collector:
    store = HqStore.open(str(tmp_path / "hq-tls.db"))
    opts = BrokerOptions(host=host, port=port, client_id="kiosk-hq", tls=True,
                         ca_file=str(pki / "ca.crt"),
                         cert_file=str(pki / "kiosk-hq.crt") if cert else "",
                         key_file=str(pki / "kiosk-hq.key") if cert else "")
    return Collector(store, opts)


def test_failed_tls_connections_are_logged_with_their_reason(
        tmp_path: Path, tls_broker: tuple[Mosquitto, int, Path], caplog: Any) -> None:
    _broker, port, pki = tls_broker
    for host, cert, expected in (
            ("localhost", True, "certificate is not for the name 'localhost'"),
            ("127.0.0.1", False, "the broker wants a client certificate")):
        caplog.clear()
        col = _tls_collector(tmp_path, port, pki, host, cert)
        col.start()
        try:
            assert until(lambda e=expected: e in caplog.text, 20), caplog.text
            assert not col.connected.is_set()
        finally:
            col.stop()
            col.store.close()
    col = _tls_collector(tmp_path, port, pki, "127.0.0.1", True)  # the same, done right
    col.start()
    try:
        assert col.subscribed.wait(20), caplog.text
    finally:
        col.stop()
        col.store.close()


def test_the_watchdog_is_fed_only_while_messages_are_stored(
        tmp_path: Path, broker: Mosquitto, hq: Hq, raw: Callable[..., Raw]) -> None:
    import sqlite3

    from kiosk.sdnotify import Heartbeat

    now = [0.0]
    col = hq.collector
    col.heartbeat = Heartbeat(max_age_s=60.0, clock=lambda: now[0])
    # Each thread has its own connection: the writer's, opened at its first batch, waits
    # 50 ms for the lock instead of 30 s (Django passes OPTIONS to sqlite3.connect).
    hq.store.db.conn.settings_dict["OPTIONS"]["timeout"] = 0.05
    blocker = sqlite3.connect(hq.db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the database stops taking writes
    now[0] = 1000.0
    ev = seal(Draft(EventType.TICKET_ISSUED, {}), site="s1", device="w01", seq=1,
              prev="0" * 64).to_json()
    raw().publish("kiosk/v1/s1/w01/events", ev)
    assert until(lambda: col.stats.store_failures >= 2, 20)
    assert not col.heartbeat.alive()  # pending and not stored: no beat
    blocker.execute("ROLLBACK")
    blocker.close()
    assert hq.wait_count(1, timeout=20)  # the same message, tried again
    assert col.heartbeat.alive()


def test_a_tls_refusal_seen_only_as_a_closed_connection_still_names_the_certificate() -> None:
    from hq.collector import _hint

    eof = "failed to receive on socket: EOF occurred in violation of protocol (_ssl.c:2393)"
    assert "client certificate" in _hint(eof, have_cert=False)
    assert _hint(eof, have_cert=True) == ""
    alert = "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required"
    assert "--cert and --key" in _hint(alert, have_cert=False)
