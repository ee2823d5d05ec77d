"""A real Mosquitto (tests/sync/conftest.py's), the protocol responder of
tests/station/responder.py, and devices built by the program's own build_counter with
[station] on: ``device(role, ...)`` starts one against the station.

How a test starts a window, the entrance or the hall against a station::

    station = responder                     # answers on the broker, windows {1: ..., 2: ...}
    w1 = device("w01", role="window", window=1, prefix="W1")
    e = device("e01", role="entrance", prefix="E")
    hall = device("hall", role="hall")      # hall.counter.hall.lines(): what it shows
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from device.config import Config, StationSection
from drivers.station.link import StationLink
from kiosk.build import Counter, build_counter
from tests.conftest import FakeClock
from tests.station.responder import Responder
from tests.sync.conftest import MOSQUITTO, Mosquitto

WINDOWS = {1: {"services": ["id_card.renew", "id_card.first"], "backup": 2},
           2: {"services": ["hukou.birth", "id_card.renew"], "backup": 1}}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not os.path.exists(MOSQUITTO):
        pytest.skip("mosquitto is not installed (setup.sh installs it)")
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def responder(broker: Mosquitto) -> Iterator[Responder]:
    r = Responder(broker.port, windows={k: dict(v) for k, v in WINDOWS.items()})
    r.start()
    yield r
    r.stop()


def station_config(tmp_path: Path, port: int, device: str, *, role: str = "window",
                   window: int = 1, prefix: str = "", timeout_s: float = 0.6) -> Config:
    cfg = Config().with_state_dir(tmp_path / f"state-{device}").simulated()
    st = StationSection(enabled=True, role=role, host="127.0.0.1", port=port,  # type: ignore[arg-type]
                        fallback_prefix=prefix, timeout_s=timeout_s)
    return dataclasses.replace(
        cfg, station=st, device=dataclasses.replace(cfg.device, site="s1", id=device),
        window=dataclasses.replace(cfg.window, number=window),
        staff=dataclasses.replace(cfg.staff, backup_window=2 if window == 1 else 1))


@dataclasses.dataclass
class Device:
    counter: Counter
    link: StationLink | None
    # The control commands (`kiosk sim ...`) of its started drivers: "hall", "station".
    commands: dict[str, Callable[[dict[str, object]], dict[str, object]]] = \
        dataclasses.field(default_factory=dict)

    @property
    def core(self):  # type: ignore[no-untyped-def]
        return self.counter.core

    @property
    def desk(self):  # type: ignore[no-untyped-def]
        return self.counter.desk

    def events(self, etype: str) -> list[dict[str, object]]:
        return [e["data"] for e in self.counter.store.events() if e["type"] == etype]


@pytest.fixture
def device(tmp_path: Path, broker: Mosquitto) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []
    clock = FakeClock()

    def make(name: str, *, role: str = "window", window: int = 1, prefix: str = "",
             timeout_s: float = 0.6, drivers: bool = False,
             real_clock: bool = False, edit: Callable[[Config], Config] | None = None,
             ) -> Device:
        """``real_clock``: the wall clock (against a kiosk-station process, whose day is
        today's); ``edit`` changes the config before the counter is built."""
        cfg = station_config(tmp_path, broker.port, name, role=role, window=window,
                             prefix=prefix, timeout_s=timeout_s)
        if edit is not None:
            cfg = edit(cfg)
        counter = build_counter(cfg, clock=time.time if real_clock else clock,
                                with_drivers=drivers)
        link, commands = None, {}
        if drivers:
            commands = counter.start_drivers()
        elif counter.station is not None:
            link = StationLink(counter.station)
            link.start(counter.core)
        client = counter.station.client if counter.station else None
        if client is not None:
            assert client.connected.wait(10), "device did not reach the station broker"
        counter.core.start()
        d = Device(counter, link, commands)
        made.append(d)
        return d

    yield make
    for d in made:
        if d.link is not None:
            d.link.close()
        d.counter.close()
