"""Shedding telemetry on a full disk never blocks the kiosk: presses commit throughout.

Two real connections on one real SQLite file, as on the Pi: the kiosk's core presses
while kiosk-sync sheds.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from device.core import Core
from device.errors import StoreError
from device.events import Draft, EventType
from device.intents import Press
from device.shedding import SHED_BATCH
from device.store import Store
from sync import disklimit, uplink
from sync.uplink import Syncer
from tests.sync.conftest import Running, device_config, free_port, until

# On a Pi the kiosk waits 10 s for the write lock, and one VACUUM of a 512 MB file on an
# SD card takes longer than that. Here the file is ~25x smaller and the disk faster, so
# the kiosk's wait is scaled down with it: a lock held for the length of a rewrite of the
# file (or shedding that never lets go of it) fails a press, a small delete does not.
KIOSK_BUSY_TIMEOUT_MS = 200
PRESS_EVERY_S = 0.02  # faster than any citizen; the wait ends as soon as shedding does


def test_presses_commit_while_telemetry_is_shed(tmp_path: Path) -> None:
    cfg = device_config(tmp_path, 1)
    cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, max_db_mb=4))
    kiosk_store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    pad = "x" * 900
    for n in range(28):  # ~14 MB of unsent telemetry and a rating in every commit
        kiosk_store.append(
            [Draft(EventType.SLIP_PRINTED, {"pad": pad, "n": n * 500 + j}) for j in range(500)]
            + [Draft(EventType.RATING_GIVEN, {"case_no": f"C{n}", "level": "satisfied"})])
    kiosk_store.conn.execute(f"PRAGMA busy_timeout={KIOSK_BUSY_TIMEOUT_MS}")
    pages_before = kiosk_store.query("PRAGMA page_count")[0][0]
    core = Core(cfg, kiosk_store)
    syncer = Syncer(cfg)
    done = threading.Event()
    shed: list[int] = []

    def shed_now() -> None:
        # Round after round, as the sync loop does (a round stops after SHED_BUDGET_S).
        try:
            while n := syncer.check_disk():
                shed.append(n)
        finally:
            done.set()

    shedder = threading.Thread(target=shed_now)
    committed: list[int] = []
    failed: list[str] = []
    try:
        shedder.start()
        while not done.wait(PRESS_EVERY_S):
            try:
                committed += [e.seq for e in core.submit(Press("away")).events]
            except StoreError as exc:
                failed.append(str(exc))
        shedder.join(60)
        assert failed == []
        assert sum(shed) > 0
        assert len(committed) >= 3  # the presses overlapped the shedding
        on_disk = {seq for (seq,) in kiosk_store.query(
            "SELECT seq FROM events WHERE type IN ('away.started', 'away.ended')")}
        assert set(committed) <= on_disk
        ratings = kiosk_store.query("SELECT count(*) FROM events WHERE type = 'rating.given'")
        assert ratings == [(28,)]
        assert syncer.store.used_bytes() <= cfg.store.max_db_mb * 1024 * 1024
        # A file made with incremental vacuum gives the shed pages back.
        assert syncer.store.query("PRAGMA page_count")[0][0] < pages_before / 2
    finally:
        done.set()
        shedder.join(60)
        syncer.close()
        kiosk_store.close()


def test_one_housekeeping_round_sheds_for_its_budget_and_the_next_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sync loop feeds the systemd watchdog between rounds: a long shed (minutes on an
    # SD card) is done in rounds of SHED_BUDGET_S, here the least: one batch per round.
    monkeypatch.setattr(disklimit, "SHED_BUDGET_S", 0.0)
    cfg = device_config(tmp_path, 1)
    cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, max_db_mb=1))
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    for n in range(6):
        store.append([Draft(EventType.SLIP_PRINTED, {"pad": "x" * 900, "n": n * 500 + j})
                      for j in range(500)])
    store.close()
    syncer = Syncer(cfg)
    try:
        rounds = []
        while shed := syncer.check_disk():
            rounds.append(shed)
            assert len(rounds) < 100
        assert len(rounds) > 1 and set(rounds) == {SHED_BATCH}
        assert syncer.store.used_bytes() <= 0.9 * 1024 * 1024
        faults = [b for (b,) in syncer.store.query(
            "SELECT body FROM events WHERE type = 'device.fault'")]
        assert len(faults) == len(rounds)  # every round's gap is explained
        assert syncer.check_disk() == 0
        assert syncer.store.query(
            "SELECT count(*) FROM events WHERE type = 'device.recovered'") == [(1,)]
    finally:
        syncer.close()


def test_telemetry_is_shed_while_the_broker_is_unreachable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, running: list[Running]) -> None:
    # Days without network are when the disk fills: housekeeping must not wait for a
    # connection. (Every loop round here; 30 s on a counter.)
    monkeypatch.setattr(uplink, "HOUSEKEEP_S", 0.0)
    cfg = device_config(tmp_path, free_port())  # nothing listens there
    cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, max_db_mb=1))
    r = Running(cfg)
    running.append(r)
    assert until(lambda: r.syncer.stats.connect_failures >= 1, 10), r.syncer.stats
    kiosk = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    try:
        for n in range(6):  # the counter keeps recording while offline
            kiosk.append([Draft(EventType.SLIP_PRINTED, {"pad": "x" * 900, "n": n * 500 + j})
                          for j in range(500)])

        def shed() -> bool:
            return bool(kiosk.query("SELECT 1 FROM events WHERE type = 'device.fault' AND "
                                    "json_extract(body, '$.data.fault') = 'db_full'"))

        # Re-checked on each failed reconnect (the syncer's counters wake ``until``).
        assert until(shed, 20), r.syncer.stats
        assert kiosk.used_bytes() <= 1024 * 1024
        assert r.syncer.stats.connections == 0
    finally:
        kiosk.close()
