"""Issue 10 item 11, the counters' side: the shipped broker is SIGKILLed and restarted
while counters keep working. Whatever the broker acknowledged and lost on the way is
published again because HQ's confirmation does not cover it: HQ holds every event exactly
once within 15 s of the restart, with the default mqtt.confirm_timeout_s.

HQ's confirmations are hqin's (sync/collector.py); here a stand-in publishes them from
the HQ database after each commit, exactly as docs/mqtt.md specifies them."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.sync.conftest import Hq, Running, fill_outbox, until
from tests.sync.fabric import (  # noqa: F401 (fixtures)
    HQ_PASSWORD,
    SITE,
    ShippedBroker,
    cert_device,
    fabric_fixture,
    fabric_hq_fixture,
)

pytestmark = pytest.mark.broker

WITHIN_S = 15.0  # the budget after a broker restart


class Confirmer:
    """After every HQ commit: each counter's contiguous seq, published retained on its
    confirmed topic when it advanced (waits on the collector's commit condition)."""

    def __init__(self, hq: Hq, fabric: ShippedBroker) -> None:
        self.hq = hq
        self.sent: dict[tuple[str, str], int] = {}
        self.stop = threading.Event()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                      client_id="hq-confirmer", protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=fabric.pki.ca)
        c.username_pw_set("kiosk-hq", HQ_PASSWORD)
        c.reconnect_delay_set(0.1, 0.5)
        c.connect("127.0.0.1", fabric.pw_port)
        c.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _contiguous(self) -> dict[tuple[str, str], int]:
        conn = sqlite3.connect(self.hq.db_path)
        try:
            rows = conn.execute("SELECT site, device, seq FROM hq_events ORDER BY site, "
                                "device, seq").fetchall()
        finally:
            conn.close()
        out: dict[tuple[str, str], int] = {}
        for site, device, seq in rows:
            if seq == out.get((site, device), 0) + 1:
                out[(site, device)] = seq
        return out

    def _run(self) -> None:
        col = self.hq.collector
        while not self.stop.is_set():
            with col.committed:
                col.committed.wait(timeout=0.5)
            for (site, device), upto in self._contiguous().items():
                if self.sent.get((site, device)) != upto:
                    ts = datetime.now(UTC).isoformat(timespec="milliseconds")
                    info = self.client.publish(
                        f"kiosk/v1/{site}/{device}/confirmed",
                        json.dumps({"upto": upto, "ts": ts.replace("+00:00", "Z")}),
                        qos=1, retain=True)
                    if info.rc == mqtt.MQTT_ERR_SUCCESS:
                        self.sent[(site, device)] = upto

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.client.loop_stop()
        self.client.disconnect()


def test_a_broker_killed_and_restarted_loses_nothing_hq_does_not_get_back(
        tmp_path: Path, fabric: ShippedBroker, fabric_hq: Hq, running: list[Running]) -> None:
    confirmer = Confirmer(fabric_hq, fabric)
    try:
        counters = [cert_device(tmp_path, fabric, SITE, d)
                    for d in ("demo-w01", "demo-w02", "demo-w03")]
        for cfg in counters:
            fill_outbox(cfg, 60)
            running.append(Running(cfg))
        assert fabric_hq.wait_count(180, 30), fabric_hq.count()
        assert until(lambda: all(r.syncer.confirmations.upto == 60 for r in running))
        assert fabric.proc is not None
        fabric.proc.kill()  # SIGKILL: no last save, in-flight messages die with it
        fabric.proc.wait()
        fabric.proc = None
        for cfg in counters:
            fill_outbox(cfg, 40)  # the counters keep working meanwhile
        fabric.start()
        restarted = time.monotonic()
        for cfg in counters:
            fill_outbox(cfg, 40)  # and while everybody reconnects
        assert fabric_hq.wait_count(420, WITHIN_S), (fabric_hq.count(), [
            r.syncer.stats for r in running])
        held_after = time.monotonic() - restarted
        for cfg in counters:
            fabric_hq.assert_complete(cfg)
        assert fabric_hq.collector.connected.is_set()
        print(f"HQ held all 420 events {held_after:.1f} s after the broker restart")
    finally:
        confirmer.close()
