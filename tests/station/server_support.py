"""What the station server's tests share: a station.toml, a service on a real station.db
with a hand-driven clock, a real Mosquitto, an HQ collector, and an MQTT 5 client that
talks to kiosk-station as a window or the entrance does (docs/station.md).

Not a conftest: the counter side's tests (drivers/station/) have their own fixtures in
tests/station/conftest.py. A module takes these by importing the ``*_fixture``
functions; each fixture's own name (``station_cfg``, ``desk``, ``station_mqtt``,
``station_hq``, ``syncs``) is what a test asks for."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hq.collector import BrokerOptions, Collector
from hq.store import HqStore
from kiosk.sdnotify import Heartbeat
from station.config import StationConfig, loads
from station.service import StationService
from station.store import StationStore
from tests.sync.conftest import (
    MOSQUITTO,
    Hq,
    Mosquitto,
    Running,
    WatchedCollectorStats,
)

STATION_TOML = """\
site = "s1"
db = "{db}"
away_alert_min = 15
[crowd]
waiting = 5
longest_wait_min = 30
[[windows]]
number = 1
services = ["id_card.renew"]
backup = 2
[[windows]]
number = 2
services = ["hukou.birth", "id_card.lost"]
backup = 1
[[windows]]
number = 3
services = ["hukou.birth"]
[[groups]]
prefix = "A"
services = ["id_card.renew", "id_card.lost"]
[[groups]]
prefix = "B"
services = ["hukou.birth"]
[[fallback]]
device = "entrance"
prefix = "E"
[[fallback]]
device = "w01"
prefix = "W1"
[mqtt]
host = "127.0.0.1"
port = {port}
"""


def station_toml(tmp_path: Path, port: int = 1883) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(STATION_TOML.format(db=tmp_path / "station" / "kiosk.db", port=port),
                    encoding="utf-8")
    return path


@pytest.fixture(name="station_cfg")
def station_cfg_fixture(tmp_path: Path) -> StationConfig:
    return loads(station_toml(tmp_path).read_text(encoding="utf-8"), "station.toml")


class Clock:
    def __init__(self, start: float = 1_796_000_000.0) -> None:  # 2026-11-30, Asia/Shanghai
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Desk:
    """A service and the requests a device sends it (each with a new rid)."""

    def __init__(self, service: StationService, clock: Clock) -> None:
        self.service = service
        self.clock = clock

    def request(self, op: str, device: str = "entrance", **fields: Any) -> dict[str, Any]:
        return {"v": 1, "rid": str(uuid.uuid4()), "device": device, "op": op, **fields}

    def send(self, op: str, device: str = "entrance", **fields: Any) -> dict[str, Any]:
        return self.service.handle(self.request(op, device, **fields))

    def ok(self, op: str, device: str = "entrance", **fields: Any) -> dict[str, Any]:
        out = self.send(op, device, **fields)
        assert out["ok"], out
        return out


@pytest.fixture(name="desk")
def desk_fixture(station_cfg: StationConfig) -> Iterator[Desk]:
    clock = Clock()
    store = StationStore(station_cfg.db_path, site=station_cfg.site)
    yield Desk(StationService(store, station_cfg, clock=clock), clock)
    store.close()


@pytest.fixture(name="station_mqtt")
def station_mqtt_fixture(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on 127.0.0.1 (tests/sync/conftest.py's broker process)."""
    if not os.path.exists(MOSQUITTO):
        pytest.skip("mosquitto is not installed (setup.sh installs it)")
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(name="station_hq")
def station_hq_fixture(station_mqtt: Mosquitto, tmp_path: Path) -> Iterator[Hq]:
    """An HQ collector on ``station_mqtt`` (as tests/sync/conftest.py's ``hq``)."""
    path = tmp_path / "hq.db"
    store = HqStore.open(str(path))
    col = Collector(store, BrokerOptions(port=station_mqtt.port, client_id="hq-station"),
                    repair_s=0.5, heartbeat=Heartbeat(max_age_s=60.0))
    col.stats = WatchedCollectorStats()
    col.start()
    assert col.subscribed.wait(10), "collector did not subscribe"
    yield Hq(path, store, col)
    with contextlib.suppress(Exception):
        col.stop()
    store.close()


@pytest.fixture(name="syncs")
def syncs_fixture() -> Iterator[list[Running]]:
    """kiosk-syncs a test starts (``Running``), stopped after it."""
    made: list[Running] = []
    yield made
    for r in made:
        r.close()


class MqttDevice:
    """A window or the entrance on the station broker: requests with a Response Topic
    and Correlation Data, responses matched by them, the retained board kept."""

    def __init__(self, port: int, device: str, site: str = "s1") -> None:
        self.device = device
        self.root = f"kiosk/v1/{site}/station"
        self.resp_topic = f"{self.root}/resp/{device}"
        self.responses: dict[str, dict[str, Any]] = {}
        self.boards: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-{device}-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the test device did not subscribe"

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(self.resp_topic, 1), (f"{self.root}/board", 1),
                          (f"{self.root}/server", 1)])

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        with self.cond:
            if msg.topic == self.resp_topic:
                # Kept by Correlation Data: the tests check it matches the rid.
                corr = msg.properties.CorrelationData.decode()  # type: ignore[union-attr]
                self.responses[corr] = doc
            elif msg.topic.endswith("/board"):
                self.boards.append(doc)
            else:
                self.state = doc
            self.cond.notify_all()

    def publish(self, request: dict[str, Any], *, response_topic: str | None = None,
                raw: bytes | None = None, properties: bool = True) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if properties:
            props.ResponseTopic = response_topic or self.resp_topic
            props.CorrelationData = str(request.get("rid", "")).encode()
        payload = raw if raw is not None else json.dumps(request).encode()
        self.client.publish(f"{self.root}/req", payload, qos=1, properties=props)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        return {"v": 1, "rid": str(uuid.uuid4()), "device": self.device, "op": op, **fields}

    def wait(self, predicate: Any, timeout: float = 20.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def call(self, op: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        """Send until answered, as a device does (the same rid every time)."""
        req = self.request(op, **fields)
        return self.resend_until_answered(req, timeout)

    def resend_until_answered(self, req: dict[str, Any], timeout: float = 20.0,
                              every: float = 1.0) -> dict[str, Any]:
        rid = req["rid"]
        for _ in range(max(1, int(timeout / every))):
            self.publish(req)
            if self.wait(lambda: rid in self.responses, every):
                assert self.responses[rid]["rid"] == rid
                return self.responses[rid]
        raise AssertionError(f"no response to {req}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
