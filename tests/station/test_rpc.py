"""The station over a real Mosquitto: MQTT 5 request/response with correlation data, the
retained board and state, bad requests answered and survived, and a repeated rid after a
broker restart changing nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station.config import StationConfig, load
from station.rpc import StationServer, serve
from tests.station.server_support import (
    Clock,
    MqttDevice,
    station_mqtt_fixture,  # noqa: F401
    station_toml,
)
from tests.sync.conftest import Mosquitto

pytestmark = pytest.mark.broker


class Served:
    """kiosk-station in this process (``serve``), stopped by the test."""

    def __init__(self, cfg: StationConfig, **options: Any) -> None:
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.server: StationServer | None = None

        def started(server: StationServer) -> None:
            self.server = server
            self.ready.set()

        self.thread = threading.Thread(target=serve, args=(cfg, self.stop), kwargs={
            "started": started, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, **options},
            daemon=True)
        self.thread.start()
        assert self.ready.wait(10)
        assert self.server is not None and self.server.connected.wait(10)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.fixture
def station(station_mqtt: Mosquitto, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    cfg = load(station_toml(tmp_path, station_mqtt.port))
    made: list[Served] = []

    def start(**options: Any) -> Served:
        made.append(Served(cfg, **options))
        return made[-1]

    yield start
    for s in made:
        s.close()


@pytest.fixture
def devices(station_mqtt: Mosquitto) -> Iterator[Callable[[str], MqttDevice]]:
    made: list[MqttDevice] = []

    def make(name: str) -> MqttDevice:
        made.append(MqttDevice(station_mqtt.port, name))
        return made[-1]

    yield make
    for d in made:
        d.close()


def test_a_round_trip_with_correlation_data_and_the_board(station, devices) -> None:
    station()
    entrance, w1 = devices("entrance"), devices("w01")
    issued = entrance.call("issue", service="id_card.renew", priority=2)
    assert issued["ok"] and issued["ticket"]["number"] == "A001"
    assert entrance.wait(lambda: bool(entrance.state and entrance.state["online"]))
    called = w1.call("call_next", window=1)
    assert called["ticket"]["number"] == "A001" and called["ticket"]["window"] == 1
    # The hall sees the call on the retained board.
    assert w1.wait(lambda: bool(w1.boards) and [
        (c["number"], c["window"]) for c in w1.boards[-1]["called"]] == [("A001", 1)])
    assert w1.boards[-1]["windows"][0]["serving"] == "A001"
    # A hall display that starts now gets the board at once (retained).
    hall = devices("hall")
    assert hall.wait(lambda: bool(hall.boards))
    assert hall.boards[-1]["windows"][0]["serving"] == "A001"
    # Each device hears only its own answers.
    assert set(w1.responses) == {called["rid"]}


def test_bad_requests_are_answered_where_possible_and_never_fatal(station, devices) -> None:
    served = station()
    w1, w2 = devices("w01"), devices("w02")
    w1.publish({"rid": "junk-1"}, raw=b"{not json")
    assert w1.wait(lambda: "junk-1" in w1.responses)
    assert w1.responses["junk-1"]["code"] == "bad_request"
    assert "not JSON" in w1.responses["junk-1"]["error"]
    # Another device's response topic: refused there, nothing issued.
    forged = w1.request("issue", service="id_card.renew")
    w1.publish(forged, response_topic=w2.resp_topic)
    assert w2.wait(lambda: forged["rid"] in w2.responses)
    assert w2.responses[forged["rid"]]["code"] == "bad_request"
    # No MQTT 5 properties at all: answered on the device's own topic, the rid as the
    # correlation.
    plain = w1.request("issue", service="id_card.renew")
    w1.publish(plain, properties=False)
    assert w1.wait(lambda: plain["rid"] in w1.responses)
    assert w1.responses[plain["rid"]]["ticket"]["number"] == "A001"
    assert served.server is not None and served.server.connected.is_set()
    assert w1.call("call_next", window=1)["ticket"]["number"] == "A001"


def test_a_repeated_rid_after_a_broker_restart_changes_nothing(station_mqtt: Mosquitto, station,
                                                               devices, tmp_path) -> None:
    served = station()
    entrance = devices("entrance")
    req = entrance.request("issue", service="hukou.birth")
    first = entrance.resend_until_answered(req)
    assert served.server is not None
    version = served.server.service.version
    station_mqtt.restart()
    assert served.server.connected.wait(20)
    again = MqttDevice(station_mqtt.port, "entrance")
    try:
        assert again.resend_until_answered(req) == first
        assert served.server.service.version == version
        nxt = again.call("issue", service="hukou.birth")
        assert nxt["ticket"]["number"] == "B002"
    finally:
        again.close()
    store = served.server.service.store
    assert [r["number"] for r in store.tickets(served.server.service.today())] == [
        "B001", "B002"]


def test_state_goes_offline_when_the_station_stops(station, devices) -> None:
    served = station()
    hall = devices("hall")
    assert hall.wait(lambda: bool(hall.state and hall.state["online"]))
    served.close()
    assert hall.wait(lambda: hall.state == {"online": False})


def test_the_clock_alone_updates_the_board_and_alerts_hq(station, devices) -> None:
    clock = Clock()
    served = station(clock=clock, tick_s=0.05)
    hall, w1 = devices("hall"), devices("w01")
    w1.call("issue", service="id_card.renew")
    w1.call("away", window=1)
    assert hall.wait(lambda: bool(hall.boards) and hall.boards[-1]["notices"] == [
        "1号窗口暂离，请到2号窗口办理"])
    clock.advance(20 * 60)
    assert hall.wait(lambda: hall.boards[-1]["longest_wait_min"] == 20)
    assert served.server is not None
    journal = served.server.service.store.journal

    def alerted() -> bool:
        return any(e["type"] == "window.away_too_long" for e in journal.events())

    # The alert is written by the first tick after the clock moved: each round trip is a
    # turn of the server's loop, so within a few of them a tick has run.
    for _ in range(500):
        if alerted():
            break
        assert w1.call("call_next", window=3)["ticket"] is None
    assert alerted()
