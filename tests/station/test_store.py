"""station.db: the pragmas, migrations once, state kept across a reopen, and the journal
an unmodified kiosk-sync reads (device "station" of its site, hash chained)."""

from __future__ import annotations

from device.events import verify_chain
from device.store import Store
from station.config import StationConfig
from station.service import StationService
from station.store import StationStore
from tests.station.server_support import (
    Clock,
    station_cfg_fixture,  # noqa: F401
)


def test_wal_full_sync_and_migrations_applied_once(station_cfg: StationConfig) -> None:
    cfg = station_cfg
    store = StationStore(cfg.db_path, site=cfg.site)
    conn = store.journal.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    again = StationStore(cfg.db_path, site=cfg.site)
    names = [r[0] for r in again.journal.query(
        "SELECT name FROM schema_migrations WHERE name LIKE 'station_%'")]
    assert names == ["station_0001_queue"]
    again.close()


def test_the_queue_and_its_answers_survive_a_reopen(station_cfg: StationConfig) -> None:
    cfg = station_cfg
    clock = Clock()
    store = StationStore(cfg.db_path, site=cfg.site)
    svc = StationService(store, cfg, clock=clock)
    req = {"v": 1, "rid": "0190-a", "device": "entrance", "op": "issue",
           "service": "id_card.renew"}
    first = svc.handle(req)
    svc.handle({"v": 1, "rid": "0190-b", "device": "w01", "op": "away", "window": 1})
    store.close()
    store = StationStore(cfg.db_path, site=cfg.site)
    svc = StationService(store, cfg, clock=clock)
    assert svc.handle(req) == first
    assert svc.board()["windows"][0]["away"] is True
    nxt = svc.handle({"v": 1, "rid": "0190-c", "device": "entrance", "op": "issue",
                      "service": "id_card.lost"})
    assert nxt["ticket"]["number"] == "A002"  # the day's count went on
    store.close()


def test_kiosk_sync_reads_the_station_journal(station_cfg: StationConfig) -> None:
    cfg = station_cfg
    store = StationStore(cfg.db_path, site=cfg.site)
    svc = StationService(store, cfg, clock=Clock())
    for i in range(3):
        svc.handle({"v": 1, "rid": f"r{i}", "device": "entrance", "op": "issue",
                    "service": "hukou.birth"})
    # What kiosk-sync opens: the same file as a device Store, without the integrity move.
    outbox = Store(cfg.db_path, site=cfg.site, device="station", check_integrity=False)
    events = outbox.events(unsent_only=True)
    assert [e["type"] for e in events] == ["ticket.issued"] * 3
    assert {(e["site"], e["device"]) for e in events} == {("s1", "station")}
    assert verify_chain(events) == []
    outbox.close()
    store.close()
