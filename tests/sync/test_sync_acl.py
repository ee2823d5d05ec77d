"""The shipped ACL (docs/mosquitto/acl) on a real broker with password authentication:
a device writes only under its own root and reads only its own commands."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from sync.collector import BrokerOptions, Collector
from sync.hq_store import HqStore
from tests.sync.conftest import Mosquitto, Running, device_config, fill_outbox, unsent, until

pytestmark = pytest.mark.broker

ACL = Path(__file__).resolve().parents[2] / "docs" / "mosquitto" / "acl"
PASSWORDS = {"demo-w01": "pw-a", "demo-w02": "pw-b", "kiosk-hq": "pw-hq"}
SITE = "demo-site"


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    pw = tmp_path / "passwd"
    pw.touch()
    for user, password in PASSWORDS.items():
        subprocess.run([tool, "-b", str(pw), user, password], check=True)
    b = Mosquitto(tmp_path / "broker", extra=(
        f"allow_anonymous false\npassword_file {pw}\nacl_file {ACL}\n"))
    b.start()
    yield b
    b.stop()


class Client:
    """A raw MQTT 5 client that records PUBACK reason codes and received messages."""

    def __init__(self, port: int, user: str) -> None:
        self.acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        c = self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-raw",
                                 protocol=mqtt.MQTTv5)
        c.username_pw_set(user, PASSWORDS[user])
        c.on_publish = lambda _c, _u, mid, rc, _p: self.acks.put((mid, rc.value))
        c.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload)))
        c.on_subscribe = lambda _c, _u, _m, rcs, _p: self.subacks.put([r.value for r in rcs])
        c.connect("127.0.0.1", port)
        c.loop_start()

    def publish(self, topic: str, payload: Any) -> int:
        info = self.c.publish(topic, json.dumps(payload), qos=1)
        mid, rc = self.acks.get(timeout=10)
        assert mid == info.mid
        return rc

    def subscribe(self, topic: str) -> list[int]:
        self.c.subscribe(topic, qos=1)
        return self.subacks.get(timeout=10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_device_cannot_publish_under_another_devices_root(secure_broker: Mosquitto) -> None:
    a = Client(secure_broker.port, "demo-w01")
    try:
        ok = a.publish(f"kiosk/v1/{SITE}/demo-w01/health", {"ok": True})
        refused = a.publish(f"kiosk/v1/{SITE}/demo-w02/events", {"forged": True})
        refused_state = a.publish(f"kiosk/v1/{SITE}/demo-w02/state", {"online": False})
        refused_content = a.publish(f"kiosk/v1/{SITE}/catalogue", {"version": "x"})
    finally:
        a.close()
    assert ok < 128
    # 135 = Not authorized: paho's publish() said success; only the PUBACK tells.
    assert refused == refused_state == refused_content == 135


def test_device_cannot_read_another_devices_commands(secure_broker: Mosquitto) -> None:
    a = Client(secure_broker.port, "demo-w01")
    b = Client(secure_broker.port, "demo-w02")
    hq = Client(secure_broker.port, "kiosk-hq")
    try:
        a.subscribe(f"kiosk/v1/{SITE}/demo-w02/cmd/+")
        a.subscribe(f"kiosk/v1/{SITE}/demo-w01/cmd/+")
        b.subscribe(f"kiosk/v1/{SITE}/demo-w02/cmd/+")
        assert hq.publish(f"kiosk/v1/{SITE}/demo-w02/cmd/ping", {"id": "for-b"}) < 128
        assert hq.publish(f"kiosk/v1/{SITE}/demo-w01/cmd/ping", {"id": "for-a"}) < 128
        # B gets its own command (the ACL is not simply closed) ...
        assert b.messages.get(timeout=10) == (f"kiosk/v1/{SITE}/demo-w02/cmd/ping",
                                              b'{"id": "for-b"}')
        # ... and A's first message is its own one: B's, sent before it, never came.
        assert a.messages.get(timeout=10) == (f"kiosk/v1/{SITE}/demo-w01/cmd/ping",
                                              b'{"id": "for-a"}')
        assert a.messages.empty()
    finally:
        for c in (a, b, hq):
            c.close()


def test_uplink_with_device_credentials_and_refused_rows_stay_unsent(
        tmp_path: Path, secure_broker: Mosquitto, running: list[Running]) -> None:
    store = HqStore.open(str(tmp_path / "hq.db"))
    col = Collector(store, BrokerOptions(port=secure_broker.port, client_id="hq-1",
                                         username="kiosk-hq", password=PASSWORDS["kiosk-hq"]))
    col.start()
    try:
        assert col.subscribed.wait(10)
        pw = tmp_path / "w01.pw"
        pw.write_text(PASSWORDS["demo-w01"] + "\n")
        good = device_config(tmp_path, secure_broker.port, site=SITE, device="demo-w01",
                             username="demo-w01", password_file=str(pw))
        fill_outbox(good, 200)
        r = Running(good)
        running.append(r)
        assert r.syncer.idle.wait(20)
        assert col.wait_for(lambda c: c.stats.new == 200, 10)
        # A counter configured as demo-w02 but holding demo-w01's credentials: the broker
        # refuses its publishes (its retained state gets PUBACK 135, then Mosquitto 2.0.11
        # drops the client before acknowledging the events), so it keeps trying, nothing
        # is ever marked sent and HQ gets nothing of it.
        forged = device_config(tmp_path, secure_broker.port, site=SITE, device="demo-w02",
                               username="demo-w01", password_file=str(pw))
        fill_outbox(forged, 50)
        f = Running(forged)
        running.append(f)
        assert until(lambda: f.syncer.stats.connections >= 3 and f.syncer.stats.published
                      >= 100), f.syncer.stats
        assert f.syncer.stats.acked == 0
        assert unsent(forged) == 50
        assert HqStore.open(str(tmp_path / "hq.db")).count("demo-w02") == 0
        assert unsent(good) == 0
    finally:
        col.stop()
        store.close()
