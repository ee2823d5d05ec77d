"""The station end to end (issue 14), on a real Mosquitto with the real kiosk-station
process: two windows, the entrance and the hall display (headless, the program's own
build_counter). Tickets taken at the entrance are called at both windows in priority
order; window 1 goes away and its tickets are served by its backup, then come back; the
hall shows each step. Then kiosk-station is SIGKILLed in the middle of a burst of
tickets and restarted, and the broker is restarted: no number is issued twice, none is
lost, none is called twice.
"""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.config import Config
from device.intents import AwayClear, AwaySet, CallTicket, CaseEnd, Press
from device.snapshot import Mode
from tests.station.conftest import Device
from tests.sync.conftest import Mosquitto

pytestmark = pytest.mark.broker

STATION = """\
site = "s1"
db = "{db}"
away_alert_min = 15
[crowd]
waiting = 100
longest_wait_min = 600
[[windows]]
number = 1
services = ["id_card.renew", "id_card.first"]
backup = 2
[[windows]]
number = 2
services = ["hukou.birth", "id_card.renew"]
backup = 1
[[groups]]
prefix = "A"
services = ["id_card.renew", "id_card.first"]
[[groups]]
prefix = "B"
services = ["hukou.birth"]
[[fallback]]
device = "e01"
prefix = "E"
[[fallback]]
device = "w01"
prefix = "W1"
[[fallback]]
device = "w02"
prefix = "W2"
[mqtt]
host = "127.0.0.1"
port = {port}
"""


class StationProcess:
    """kiosk-station as the unit runs it, so it can be SIGKILLed."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.db = tmp_path / "station" / "kiosk.db"
        self.config = tmp_path / "station.toml"
        self.config.write_text(STATION.format(db=self.db, port=port), encoding="utf-8")
        self.log = tmp_path / "station.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.station_cli", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def station(tmp_path: Path, broker: Mosquitto) -> Iterator[StationProcess]:
    s = StationProcess(tmp_path, broker.port)
    s.start()
    yield s
    s.stop()


def green_channel(cfg: Config) -> Config:
    return dataclasses.replace(cfg, queue=dataclasses.replace(cfg.queue,
                                                              green_channel=("elderly",)))


def called(*devices: Device) -> list[str]:
    return [str(e["number"]) for d in devices for e in d.events("ticket.called")]


def serve_and_rate(w: Device) -> None:
    """End the open case and let the citizen rate it: the window is idle again."""
    assert w.core.submit(CaseEnd()).ok
    assert w.core.submit(Press("satisfied")).ok


def test_a_station_of_two_windows_an_entrance_and_a_hall(station, device, broker):
    hall = device("hall", role="hall", drivers=True, real_clock=True)
    view = hall.counter.hall
    assert view.wait_for(lambda v: not v.offline and len(v.windows) == 2, 30), view.lines()
    entrance = device("e01", role="entrance", prefix="E", real_clock=True, edit=green_channel)
    w1 = device("w01", role="window", window=1, prefix="W1", real_clock=True)
    w2 = device("w02", role="window", window=2, prefix="W2", real_clock=True)

    # Tickets at the entrance: numbered by the station, one block a service group.
    t = [entrance.desk.issue_ticket(s) for s in ("id_card.renew", "id_card.first",
                                                 "hukou.birth")]
    green = entrance.desk.issue_ticket("id_card.renew", "elderly")
    assert [x.number for x in (*t, green)] == ["A001", "A002", "B001", "A003"]
    assert not any(x.fallback for x in (*t, green))
    assert t[1].windows == (1,)  # id_card.first: window 1 only
    assert view.wait_for(lambda v: "居民身份证有效期满换领 2人" in v.waiting, 10), view.lines()

    # Priority first: window 1 calls the green-channel ticket, window 2 the earliest.
    assert w1.core.submit(Press("next")).ok and w1.core.state.ticket == "A003"
    assert w2.core.submit(Press("next")).ok and w2.core.state.ticket == "A001"
    assert view.wait_for(lambda v: v.latest == "请A001号到2号窗口办理"
                         and "A003 → 1号窗口" in v.called, 10), view.lines()
    assert "1号窗口　正在办理 A003" in view.lines()

    # Window 1 goes away: A002 (only it serves id_card.first) waits for its backup.
    serve_and_rate(w1)
    assert w1.core.submit(AwaySet("窗口会议", "23:59", backup="window 2")).ok
    assert view.wait_for(lambda v: "1号窗口暂离，请到2号窗口办理" in v.lines(), 10), view.lines()
    serve_and_rate(w2)
    assert w2.core.submit(Press("next")).ok and w2.core.state.ticket == "A002"
    assert view.wait_for(lambda v: v.latest == "请A002号到2号窗口办理", 10), view.lines()
    assert w1.core.submit(AwayClear()).ok
    assert view.wait_for(lambda v: "1号窗口　等候叫号" in v.lines(), 10), view.lines()
    serve_and_rate(w2)
    assert w1.core.submit(Press("next")).ok and w1.core.state.ticket == ""  # none for 1
    assert w1.core.submit(CaseEnd()).ok and w1.core.submit(Press("basic")).ok

    # A burst of tickets with the station SIGKILLed in the middle of it.
    issued: list[str] = []
    killed = threading.Event()

    def burst() -> None:
        for i in range(24):
            issued.append(entrance.desk.issue_ticket(
                ("id_card.renew", "hukou.birth")[i % 2]).number)
            if i == 8:
                killed.set()
    runner = threading.Thread(target=burst)
    runner.start()
    assert killed.wait(30)
    station.kill()
    runner.join(120)
    assert not runner.is_alive() and len(issued) == 24
    fallback = [n for n in issued if n.startswith("E")]
    assert fallback, "the kill landed after the burst: no ticket from the entrance's block"
    station.start()
    broker.restart()
    assert view.wait_for(lambda v: not v.offline, 30), view.lines()

    # Every number issued once, the entrance's block reconciled into the station.
    def reconciled() -> bool:
        have = {n for (n,) in station.rows("SELECT number FROM station_tickets")}
        return set(issued) <= have
    # The board changes with every ticket the station takes: wait on it.
    assert view.wait_for(lambda _v: reconciled(), 60), (
        sorted(set(issued) - {n for (n,) in station.rows("SELECT number FROM station_tickets")}))
    numbers = [n for (n,) in station.rows("SELECT number FROM station_tickets")]
    assert len(numbers) == len(set(numbers)), "a number issued twice"
    assert len(issued) == len(set(issued))
    # The request in flight at the kill may have been committed with its answer lost: the
    # entrance printed a block number instead, and reconcile voided the station's one.
    void = {n for (n,) in station.rows("SELECT number FROM station_tickets "
                                       "WHERE status = 'void'")}
    assert len(void) <= 1 and not void & set(issued)
    numbers = [n for n in numbers if n not in void]
    assert {*issued, "A001", "A002", "A003", "B001"} == set(numbers)

    # The windows call everything that waits; none is called twice.
    for _ in range(40):
        progressed = False
        for w in (w1, w2):
            if w.core.submit(Press("next")).ok and w.core.state.ticket:
                progressed = True
            serve_and_rate(w)
        if not progressed:
            break
    calls = called(w1, w2)
    assert len(calls) == len(set(calls)), f"called twice: {calls}"
    assert set(calls) == set(numbers), sorted(set(numbers) - set(calls))


def test_with_the_station_stopped_every_device_issues_from_its_block_and_reconciles(
        station, device):
    hall = device("hall", role="hall", drivers=True, real_clock=True)
    view = hall.counter.hall
    assert view.wait_for(lambda v: not v.offline and len(v.windows) == 2, 30), view.lines()
    entrance = device("e01", role="entrance", prefix="E", real_clock=True)
    w1 = device("w01", role="window", window=1, prefix="W1", real_clock=True)
    w2 = device("w02", role="window", window=2, prefix="W2", real_clock=True)
    station.stop()  # a clean stop: it says offline, and the devices fall back at once
    assert view.wait_for(lambda v: v.offline, 20), view.lines()
    issued = {d.counter.config.device.id: [d.desk.issue_ticket("id_card.renew")
                                           for _ in range(3)] for d in (entrance, w1, w2)}
    assert all(t.fallback for ts in issued.values() for t in ts)
    assert {k: [t.number for t in ts] for k, ts in issued.items()} == {
        "e01": ["E001", "E002", "E003"], "w01": ["W1001", "W1002", "W1003"],
        "w02": ["W2001", "W2002", "W2003"]}
    # The windows serve their own blocks meanwhile.
    assert w1.core.submit(Press("next")).ok and w1.core.state.ticket == "W1001"
    serve_and_rate(w1)
    # The entrance's slip sends E002's holder to window 2, who calls it by its number.
    assert w2.core.submit(CallTicket("E002")).ok and w2.core.state.ticket == "E002"
    (brought,) = [e for e in w2.events("ticket.called") if e["number"] == "E002"]
    # The slip's service is not known at the window: its first, as the last board said.
    assert brought["brought"] is True and brought["service"] == "hukou.birth"
    serve_and_rate(w2)
    # Not one of window 2's own: its block goes on at W2004.
    extra = w2.desk.issue_ticket("id_card.renew")
    assert (extra.number, extra.fallback) == ("W2004", True)

    station.start()
    numbers = {t.number for ts in issued.values() for t in ts} | {"W2004"}

    def reconciled() -> bool:
        return numbers <= {n for (n,) in station.rows("SELECT number FROM station_tickets")}
    assert view.wait_for(lambda v: not v.offline and reconciled(), 60), station.rows(
        "SELECT number, status FROM station_tickets")
    status = dict(station.rows("SELECT number, status FROM station_tickets"))
    assert status["W1001"] == "done"  # served at window 1 while the station was away
    assert status["E002"] == "done"  # and the entrance's E002 at window 2: never again
    # The rest is the station's to call now, each once, at either window.
    for _ in range(12):
        for w in (w1, w2):
            w.core.submit(Press("next"))  # a ticket, or a walk-in case when none waits
            if w.core.state.mode is Mode.SERVING:
                serve_and_rate(w)
    calls = called(w1, w2)
    assert len(calls) == len(set(calls)) and set(calls) == numbers, sorted(calls)
