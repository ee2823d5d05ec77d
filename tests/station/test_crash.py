"""kiosk-station as a process, SIGKILLed in the middle of a burst of `issue` requests and
started again, then the broker restarted: every acknowledged ticket is in station.db
exactly once, no number twice, and every resent rid gets its first answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from station.config import load
from station.store import StationStore
from tests.station.server_support import (
    MqttDevice,
    station_mqtt_fixture,  # noqa: F401
    station_toml,
)
from tests.sync.conftest import Mosquitto

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
BURST = 200


def start(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "kiosk.station_cli", "--config",
                             str(config)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_sigkill_mid_burst_loses_nothing_and_issues_nothing_twice(
        station_mqtt: Mosquitto, tmp_path: Path) -> None:
    config = station_toml(tmp_path, station_mqtt.port)
    entrance = MqttDevice(station_mqtt.port, "entrance")
    proc = start(config)
    try:
        assert entrance.wait(lambda: bool(entrance.state and entrance.state["online"])), \
            "kiosk-station did not come online"
        burst = [entrance.request("issue", service="id_card.renew" if i % 3 else
                                  "hukou.birth", priority=i % 3) for i in range(BURST)]
        for req in burst:
            entrance.publish(req)
        assert entrance.wait(lambda: len(entrance.responses) >= BURST // 4)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        before = dict(entrance.responses)
        assert len(before) < BURST, "the burst was over before the kill: make it longer"
        assert entrance.wait(lambda: entrance.state == {"online": False}), "no Last Will"
        proc = start(config)
        # The broker kept the session: what was queued or unacknowledged comes again.
        for req in burst:
            entrance.resend_until_answered(req, timeout=30)
        station_mqtt.restart()
        again = MqttDevice(station_mqtt.port, "entrance")
        try:
            for req in burst:
                assert again.resend_until_answered(req, timeout=30) == \
                    entrance.responses[req["rid"]]
        finally:
            again.close()
    finally:
        proc.terminate()
        proc.wait(10)
        entrance.close()
    for rid, answer in before.items():
        assert entrance.responses[rid] == answer  # an answer given is never changed
    answers = [entrance.responses[r["rid"]] for r in burst]
    assert all(a["ok"] for a in answers), [a for a in answers if not a["ok"]]
    numbers = [a["ticket"]["number"] for a in answers]
    assert len(set(numbers)) == BURST
    cfg = load(config)
    store = StationStore(cfg.db_path, site=cfg.site)
    try:
        day = answers[0]["ticket"]["day"]
        rows = store.tickets(day)
        assert sorted(r["number"] for r in rows) == sorted(numbers)
        issued = [e for e in store.journal.events() if e["type"] == "ticket.issued"]
        assert sorted(e["data"]["number"] for e in issued) == sorted(numbers)
        groups = {p: sorted(int(n[1:]) for n in numbers if n[0] == p) for p in "AB"}
        for prefix, counts in groups.items():  # the day's count has no hole either
            assert counts == list(range(1, len(counts) + 1)), prefix
    finally:
        store.close()
