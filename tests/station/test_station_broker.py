"""The station's brokers for real: the rules broker_rules.py writes let each device
reach only its own station answers and the board, and kiosk-station serve them; the
station broker's bridge (provision/station/station_broker.py) carries the site's device
topics to HQ and its content back, and never a request, response or board."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from station.config import load
from station.rpc import serve
from sync.topics import CONTENT_KINDS
from tests.station.server_support import station_toml
from tests.sync.conftest import MOSQUITTO, Mosquitto

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "provision" / "broker_rules.py"
sys.path.insert(0, str(REPO / "provision" / "station"))
import station_broker  # noqa: E402 (a stdlib script of the station's server)


class Client:
    """A paho MQTT 5 client that records SUBACK codes and messages."""

    def __init__(self, port: int, client_id: str, user: str = "", password: str = "") -> None:
        self.cond = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: dict[int, list[int]] = {}
        self.connected: int | None = None
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        if user:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.wait(lambda: self.connected is not None)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        with self.cond:
            self.connected = int(rc.value)
            self.cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        with self.cond:
            self.subacks[mid] = [int(c.value) for c in codes]
            self.cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def wait(self, predicate: Any, timeout: float = 20.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def subscribe(self, topic: str) -> int:
        _, mid = self.c.subscribe(topic, qos=1)
        assert self.wait(lambda: mid in self.subacks)
        return self.subacks[mid][0]

    def topics(self) -> list[str]:
        with self.cond:
            return [t for t, _ in self.messages]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_each_device_reaches_only_its_own_answers_and_kiosk_station_serves(
        tmp_path: Path) -> None:
    plugins = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")
    if not plugins or not Path(MOSQUITTO).exists():
        pytest.skip("Mosquitto or its dynamic-security plugin is not installed")
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("w01", "w02", "station-server"):
        (rules / f"{name}.pw").write_text(f"pw-{name}\n")
    (rules / "fleet.csv").write_text("site,device,mqtt_password_file,client_cert_file\n" + "".join(
        f"s1,{n},{n}.pw,\n" for n in ("w01", "w02", "station-server")))
    (rules / "hq.pw").write_text("hq\n")
    dynsec = tmp_path / "dynsec.json"
    out = subprocess.run([sys.executable, str(RULES), str(rules / "fleet.csv"), "--out",
                          str(dynsec), "--hq", f"kiosk-hq={rules / 'hq.pw'}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    broker = Mosquitto(tmp_path / "broker", extra=(
        f"allow_anonymous false\nplugin {plugins[0]}\nplugin_opt_config_file {dynsec}\n"))
    broker.start()
    root = "kiosk/v1/s1/station"
    # The device's station client (drivers/station/) has its own user and client id.
    w01 = Client(broker.port, "s1.w01.station", "s1.w01.station", "pw-w01")
    try:
        assert w01.subscribe(f"{root}/resp/w01") == 1
        assert w01.subscribe(f"{root}/board") == 1
        assert w01.subscribe(f"{root}/server") == 1
        for other in (f"{root}/resp/w02", f"{root}/resp/+", f"{root}/req", f"{root}/#"):
            assert w01.subscribe(other) == 135, other
        # kiosk-station logs in as the site's station server and answers w01.
        toml = station_toml(tmp_path, broker.port)
        toml.write_text(toml.read_text().replace(
            "[mqtt]\n", f'[mqtt]\nusername = "s1.station-server"\npassword_file = '
                        f'"{rules / "station-server.pw"}"\n'))
        stop = threading.Event()
        thread = threading.Thread(target=serve, args=(load(toml), stop), daemon=True)
        thread.start()
        try:
            assert w01.wait(lambda: f"{root}/board" in w01.topics()), "no board"
            rid = str(uuid.uuid4())
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic = f"{root}/resp/w01"
            props.CorrelationData = rid.encode()
            w01.c.publish(f"{root}/req", json.dumps({
                "v": 1, "rid": rid, "device": "w01", "op": "issue",
                "service": "id_card.renew"}), qos=1, properties=props)
            assert w01.wait(lambda: f"{root}/resp/w01" in w01.topics())
            answer = json.loads(dict(w01.messages)[f"{root}/resp/w01"])
            assert answer["rid"] == rid and answer["ticket"]["number"] == "A001"
        finally:
            stop.set()
            thread.join(10)
    finally:
        w01.close()
        broker.stop()


def test_the_bridge_carries_device_topics_and_keeps_the_station_s_own(tmp_path: Path) -> None:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed")
    hq = Mosquitto(tmp_path / "hq")
    hq.start()
    text = station_broker.bridge("s1", host="127.0.0.1", port=hq.port, user="bridge-s1",
                                 password="x", ca_file="")
    local = Mosquitto(tmp_path / "station", extra="allow_anonymous true\n" + text)
    local.start()
    at_hq = Client(hq.port, "hq-watch")
    here = Client(local.port, "station-watch")
    try:
        assert at_hq.subscribe("kiosk/v1/#") == 1
        assert here.subscribe("kiosk/v1/s1/#") == 1
        kept = ["kiosk/v1/s1/station/req", "kiosk/v1/s1/station/resp/w01",
                "kiosk/v1/s1/station/board", "kiosk/v1/s1/station/server",
                "kiosk/v1/s2/w01/events"]
        # station/state is the station kiosk-sync's own state (device "station"): to HQ.
        sent = ["kiosk/v1/s1/w01/events", "kiosk/v1/s1/station/events",
                "kiosk/v1/s1/station/state",
                "kiosk/v1/s1/w01/state", "kiosk/v1/s1/w01/content/catalogue/result"]
        sentinel = "kiosk/v1/s1/w01/health"

        def through() -> bool:
            # The bridge connects when it connects: send until the sentinel is at HQ.
            for topic in [*kept, *sent, sentinel]:
                here.c.publish(topic, b"{}", qos=1)
            return at_hq.wait(lambda: sentinel in at_hq.topics(), 2.0)

        assert any(through() for _ in range(10)), "the bridge never connected"
        got = set(at_hq.topics())
        assert set(sent) <= got and not (set(kept) & got), got
        for topic in ("kiosk/v1/s1/catalogue", "kiosk/v1/s1/w01/confirmed",
                      "kiosk/v1/s1/w01/cmd/ping"):
            at_hq.c.publish(topic, b"{}", qos=1)
        assert here.wait(lambda: {"kiosk/v1/s1/catalogue", "kiosk/v1/s1/w01/confirmed",
                                  "kiosk/v1/s1/w01/cmd/ping"} <= set(here.topics()))
    finally:
        at_hq.close()
        here.close()
        local.stop()
        hq.stop()


def test_the_shipped_example_is_what_the_script_writes(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("CHANGE-ME\n")
    assert station_broker.main([
        "--site", "demo-site", "--listen", "192.168.50.10", "--hq-host",
        "mqtt.hq.example.gov.cn", "--hq-ca", "/etc/mosquitto/ca/hq-ca.crt", "--bridge-user",
        "bridge-demo-site", "--bridge-password-file", str(tmp_path / "pw"), "--out",
        str(tmp_path / "out.conf")]) == 0
    shipped = (REPO / "provision" / "station" / "mosquitto.conf").read_text()
    assert (tmp_path / "out.conf").read_text() == shipped
    assert station_broker.CONTENT_KINDS == CONTENT_KINDS  # the counters' contract
    assert station_broker.main(["--site", "s1", "--listen", "0.0.0.0", "--hq-host", "h",
                                "--bridge-user", "b", "--bridge-password-file", "x",
                                "--out", str(tmp_path / "o")]) == 2


def test_the_rules_give_the_server_and_the_bridge_exactly_their_topics(tmp_path: Path) -> None:
    (tmp_path / "s.pw").write_text("s\n")
    (tmp_path / "b.pw").write_text("b\n")
    (tmp_path / "hq.pw").write_text("hq\n")
    (tmp_path / "fleet.csv").write_text("site,device,mqtt_password_file,client_cert_file\n"
                                        "s1,station-server,s.pw,\ns1,w01,,w.crt\n")
    out = subprocess.run([sys.executable, str(RULES), str(tmp_path / "fleet.csv"), "--out",
                          str(tmp_path / "d.json"), "--hq", f"kiosk-hq={tmp_path / 'hq.pw'}",
                          "--bridge", f"bridge-s1={tmp_path / 'b.pw'}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "d.json").read_text())
    roles = {r["rolename"]: {(a["acltype"], a["topic"]) for a in r["acls"]}
             for r in doc["roles"]}
    clients = {c["username"]: c for c in doc["clients"]}
    root = "kiosk/v1/s1/station"
    assert [r["rolename"] for r in clients["s1.station-server"]["roles"]] == [
        "station-server:s1"]
    assert roles["station-server:s1"] == {
        ("subscribeLiteral", f"{root}/req"), ("publishClientReceive", f"{root}/req"),
        ("publishClientSend", f"{root}/resp/+"), ("publishClientSend", f"{root}/board"),
        ("publishClientSend", f"{root}/server")}
    assert roles["station:s1.w01"] == {("publishClientSend", f"{root}/req")} | {
        (kind, topic) for topic in (f"{root}/resp/w01", f"{root}/board", f"{root}/server")
        for kind in ("subscribeLiteral", "publishClientReceive")}
    # kiosk-sync's user has no station topics; the station client has nothing else.
    assert [r["rolename"] for r in clients["s1.w01"]["roles"]] == ["device:s1.w01",
                                                                   "site:s1"]
    assert [r["rolename"] for r in clients["s1.w01.station"]["roles"]] == ["station:s1.w01"]
    assert "password" not in clients["s1.w01.station"]  # a certificate counter
    bridge = roles["bridge:s1"]
    assert all(t.startswith("kiosk/v1/s1/") for _, t in bridge)
    assert not any("station/" in t for _, t in bridge)
    assert clients["bridge-s1"]["clientid"] == "bridge-s1"
