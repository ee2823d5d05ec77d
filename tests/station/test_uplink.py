"""An unmodified kiosk-sync pointed at station.db sends the station's events to HQ as
device "station" of its site: every one once, the chain verified."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from station.config import StationConfig
from station.service import StationService
from station.store import StationStore
from tests.station.server_support import (
    Clock,
    station_cfg_fixture,  # noqa: F401
    station_hq_fixture,  # noqa: F401
    station_mqtt_fixture,  # noqa: F401
    syncs_fixture,  # noqa: F401
)
from tests.sync.conftest import Hq, Mosquitto, Running, device_config

pytestmark = pytest.mark.broker


def test_kiosk_sync_uplinks_the_station_events(station_mqtt: Mosquitto, station_hq: Hq,
                                               syncs: list[Running],
                                               station_cfg: StationConfig,
                                               tmp_path: Path) -> None:
    cfg, hq = station_cfg, station_hq
    sync_cfg = device_config(tmp_path, station_mqtt.port, device="station", site=cfg.site)
    station_cfg = dataclasses.replace(cfg, db=str(sync_cfg.db_path))
    store = StationStore(station_cfg.db_path, site=cfg.site)
    clock = Clock()
    svc = StationService(store, station_cfg, clock=clock)

    def send(op: str, **fields: object) -> None:
        out = svc.handle({"v": 1, "rid": str(uuid.uuid4()), "device": "w01", "op": op,
                          **fields})
        assert out["ok"], out
        clock.advance(90)

    for _ in range(3):
        send("issue", service="id_card.renew")
    send("call_next", window=1)
    send("done", window=1)
    send("away", window=1)
    clock.advance(3600)
    assert svc.tick()
    store.close()
    syncs.append(Running(sync_cfg))
    assert hq.wait_count(7)
    hq.assert_complete(sync_cfg)
    reader = hq.store.db
    types = sorted(r[0] for r in reader.all(
        "SELECT type FROM hq_events WHERE site = ? AND device = 'station'", (cfg.site,)))
    assert types == sorted(["ticket.issued"] * 3 + ["ticket.called", "ticket.done",
                                                    "window.away_too_long",
                                                    "station.crowded"])
