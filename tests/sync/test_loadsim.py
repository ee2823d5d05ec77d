"""The load simulator: its own sites and badges, marked simulated, and it honours HQ's
confirmations (keeps and re-publishes what HQ has not confirmed), on a real Mosquitto."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hq.store import HqStore
from kiosk.sync_cli import main_hq
from sync.loadsim import LoadSim
from tests.sync.conftest import Hq, Mosquitto

pytestmark = pytest.mark.broker


def test_simulated_counters_keep_to_their_own_sites_and_badges(
        tmp_path: Path, broker: Mosquitto, hq: Hq, capsys: Any) -> None:
    sim = LoadSim("127.0.0.1", broker.port, 4, sites=2)
    try:
        assert sim.connect_all(20) == 4
        sim.backlog(15)
        assert sim.run_until(lambda: hq.count() >= 60, 30), hq.count()
        # Confirmed: the simulated journals are empty, nothing is sent twice.
        assert sim.run_until(lambda: all(not s.journal for s in sim.sims), 20)
    finally:
        sim.close()
    store = HqStore.open(str(hq.db_path))
    rows = store.db.all("SELECT DISTINCT site, simulated FROM hq_events ORDER BY site")
    officers = {str(r[0]) for r in store.db.all("SELECT DISTINCT officer FROM work_orders")}
    store.close()
    assert rows == [("loadsim-000", 1), ("loadsim-001", 1)]
    assert officers and all(o.startswith("SIM") for o in officers)  # no roster badge
    assert hq.collector.stats.duplicates == 0
    out = tmp_path / "report"
    assert main_hq(["report", "--db", str(hq.db_path), "--from", "2020-01-01", "--to",
                    "2100-01-01", "--out", str(out)]) == 0
    assert "0 events" in (out / "report.html").read_text(encoding="utf-8")


def test_unconfirmed_events_are_published_again_when_hq_was_not_listening(
        tmp_path: Path, broker: Mosquitto, hq_factory: Callable[..., Hq]) -> None:
    sim = LoadSim("127.0.0.1", broker.port, 3, confirm_timeout_s=1.0)
    try:
        assert sim.connect_all(20) == 3
        sim.backlog(10)
        # No collector yet: the broker acknowledges and drops every event.
        assert sim.run_until(lambda: sim.stats.acked >= 30, 20)
        hq = hq_factory(broker.port)
        assert sim.run_until(lambda: hq.count() >= 30, 30), hq.count()
        assert sim.stats.republished >= 30
        assert sim.run_until(lambda: all(not s.journal for s in sim.sims), 20)
    finally:
        sim.close()
    for (site, device), last in sim.last_seq().items():
        status = next(r for r in hq.store.integrity()
                      if (r["site"], r["device"]) == (site, device))
        assert status["verified_seq"] == last == 10
