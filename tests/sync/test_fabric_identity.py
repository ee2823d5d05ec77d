"""Issue 10 items 2, 4, 5 against the broker we ship (docs/mosquitto/mosquitto.conf, TLS,
dynamic-security rules written by provision/broker_rules.py): one counter's credentials
in the wrong hands cannot take HQ's events, another counter's or HQ's session, or
publish as another site. After each attack HQ holds every genuine event exactly once
(within the stated time), the collector and the genuine counters are still up, and the
attacker got nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.sync.conftest import Hq, Running, device_config, fill_outbox, unsent, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    EAST,
    HQ_HOLDS_S,
    HQ_PASSWORD,
    SITE,
    W03_PASSWORD,
    Raw,
    ShippedBroker,
    cert_device,
    fabric_fixture,
    fabric_hq_fixture,
)

pytestmark = pytest.mark.broker

def _rows(fabric_hq: Hq, sql: str) -> int:
    conn = sqlite3.connect(fabric_hq.db_path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_no_counter_can_subscribe_to_events_shared_or_not(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running]) -> None:
    """Item 2: `$share/hq/...` used to get SUBACK 1 and half of HQ's events."""
    a = Raw(fabric, "whatever", cert=f"{SITE}.demo-w01")
    p = Raw(fabric, f"{SITE}.demo-w03", user=f"{SITE}.demo-w03", password=W03_PASSWORD)
    try:
        assert a.connack() == 0 and p.connack() == 0
        for attacker in (a, p):
            for topic in ("$share/hq/kiosk/v1/+/+/events", "$share/evil/kiosk/v1/+/+/events",
                          "$share/hq/#", "kiosk/v1/+/+/events", "#", "kiosk/v1/#",
                          f"kiosk/v1/{SITE}/demo-w02/events", f"kiosk/v1/{SITE}/+/events",
                          f"kiosk/v1/{SITE}/demo-w02/cmd/+", f"kiosk/v1/{SITE}/demo-w02/confirmed",
                          f"kiosk/v1/{EAST}/catalogue", "$share/hq/kiosk/v1/+/+/state",
                          "$SYS/#", "$CONTROL/dynamic-security/#"):
                assert attacker.subscribe(topic) == 135, topic  # Not authorized
        # What a counter needs is granted (the rules are not simply closed).
        assert a.subscribe(f"kiosk/v1/{SITE}/demo-w01/cmd/+") == 1
        assert a.subscribe(f"kiosk/v1/{SITE}/demo-w01/confirmed") == 1
        assert a.subscribe(f"kiosk/v1/{SITE}/catalogue") == 1
        tool = Raw(fabric, "hq-tool", user="kiosk-hq", password=HQ_PASSWORD)
        assert tool.connack() == 0
        assert tool.publish(f"kiosk/v1/{SITE}/demo-w02/cmd/ping", {"id": "for-b"}) < 128
        assert tool.publish(f"kiosk/v1/{SITE}/demo-w01/cmd/ping", {"id": "for-a"}) < 128
        tool.close()
        # A's first message is its own command: B's, sent before it, never came.
        assert a.messages.get(timeout=10) == (f"kiosk/v1/{SITE}/demo-w01/cmd/ping",
                                              b'{"id": "for-a"}')
        b = cert_device(tmp_path, fabric, SITE, "demo-w02")
        fill_outbox(b, 300)
        r = Running(b)
        running.append(r)
        assert r.syncer.idle.wait(30)
        assert fabric_hq.wait_count(300, HQ_HOLDS_S), fabric_hq.count()
        fabric_hq.assert_complete(b)
        assert unsent(b) == 0
        assert a.messages.empty() and p.messages.empty()
        assert fabric_hq.collector.connected.is_set()
    finally:
        a.close()
        p.close()


def test_client_ids_are_bound_so_no_session_can_be_taken_over(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running]) -> None:
    """Item 4: A's credentials with B's client id disconnected B (and sent B's Will);
    with HQ's predictable id and clean_start=false A took over HQ's session."""
    b = cert_device(tmp_path, fabric, SITE, "demo-w02")
    r = Running(b)
    running.append(r)
    assert r.syncer.connected.wait(10)
    w03 = device_config(tmp_path, fabric.pw_port, site=SITE, device="demo-w03", tls=True,
                        ca_file=fabric.pki.ca, username=f"{SITE}.demo-w03",
                        password_file=str(tmp_path / "provision" / f"{SITE}-demo-w03.pw"))
    r3 = Running(w03)
    running.append(r3)
    assert r3.syncer.connected.wait(10)
    hq_id = fabric_hq.collector.opts.client_id
    # A password counter may log in only with its own id: B's and HQ's are refused.
    for cid in (f"{SITE}.demo-w02", hq_id):
        x = Raw(fabric, cid, user=f"{SITE}.demo-w03", password=W03_PASSWORD, clean_start=False)
        assert x.connack() == 135, cid
        x.close()
    # A certificate counter's id is replaced by its own name, whatever it asks for.
    takers = [Raw(fabric, cid, cert=f"{SITE}.demo-w01", clean_start=False)
              for cid in (f"{SITE}.demo-w02", hq_id)]
    try:
        for t in takers:
            assert t.connack() == 0
        fill_outbox(b, 40)
        fill_outbox(w03, 40)
        assert fabric_hq.wait_count(80, HQ_HOLDS_S), fabric_hq.count()
        fabric_hq.assert_complete(b)
        fabric_hq.assert_complete(w03)
        # Nobody was pushed off: one connection each, and the broker never closed an
        # "old connection" of B, of the password counter or of the collector.
        assert r.syncer.stats.connections == 1 and r3.syncer.stats.connections == 1
        closed = [line for line in fabric.log if "closing old connection" in line]
        assert all(f"{SITE}.demo-w01" in line for line in closed), closed
        assert fabric_hq.collector.connected.is_set()
        for t in takers:
            assert t.messages.empty()
    finally:
        for t in takers:
            t.close()


def test_a_counter_writes_only_under_its_own_site_and_device(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running]) -> None:
    """Item 5: the site level was a wildcard; A published as east-site and HQ opened an
    east-site work order."""
    a = Raw(fabric, "a", cert=f"{SITE}.demo-w01")
    try:
        assert a.connack() == 0
        for topic in (f"kiosk/v1/{EAST}/demo-w01/events", f"kiosk/v1/{EAST}/east-w01/events",
                      f"kiosk/v1/{SITE}/demo-w02/events", f"kiosk/v1/{SITE}/demo-w02/state",
                      f"kiosk/v1/{SITE}/demo-w01/confirmed", f"kiosk/v1/{SITE}/catalogue",
                      f"kiosk/v1/{SITE}/demo-w02/cmd/resend", "$CONTROL/dynamic-security/v1"):
            assert a.publish(topic, {"forged": True}) == 135, topic
        assert a.publish(f"kiosk/v1/{SITE}/demo-w01/health", {"ok": True}) < 128
    finally:
        a.close()
    # A real kiosk-sync configured as east-site/demo-w01 with demo-w01's certificate.
    forged = device_config(tmp_path / "forged", fabric.port, site=EAST, device="demo-w01",
                           tls=True, ca_file=fabric.pki.ca,
                           cert_file=str(fabric.pki.d / f"{SITE}.demo-w01.crt"),
                           key_file=str(fabric.pki.d / f"{SITE}.demo-w01.key"))
    fill_outbox(forged, 30, unsatisfied_every=3)
    f = Running(forged)
    running.append(f)
    east = cert_device(tmp_path, fabric, EAST, "east-w01")
    fill_outbox(east, 120, unsatisfied_every=40)
    e = Running(east)
    running.append(e)
    assert e.syncer.idle.wait(30)
    assert until(lambda: f.syncer.stats.refused >= 3), f.syncer.stats  # all 30, PUBACK 135
    assert fabric_hq.wait_count(120, HQ_HOLDS_S), fabric_hq.count()
    fabric_hq.assert_complete(east)
    assert f.syncer.stats.acked == 0 and unsent(forged) == 30
    assert _rows(fabric_hq, "SELECT count(*) FROM hq_events WHERE device = 'demo-w01'") == 0
    assert _rows(fabric_hq, "SELECT count(*) FROM work_orders WHERE device = 'demo-w01'") == 0
    assert _rows(fabric_hq, "SELECT count(*) FROM work_orders WHERE device = 'east-w01'") == 3
