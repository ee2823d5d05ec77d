"""kiosk-sync drains the outbox to a real broker; HQ holds every event exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync.conftest import Hq, Mosquitto, Running, device_config, fill_outbox, unsent

pytestmark = pytest.mark.broker


def test_drain_marks_sent_after_puback(tmp_path: Path, broker: Mosquitto, hq: Hq,
                                       running: list[Running]) -> None:
    cfg = device_config(tmp_path, broker.port)
    ids = fill_outbox(cfg, 1500, unsatisfied_every=100)
    r = Running(cfg)
    running.append(r)
    assert hq.wait_count(1500, timeout=30)
    assert r.syncer.idle.wait(10)
    assert unsent(cfg) == 0
    hq.assert_complete(cfg, ids)
    assert hq.collector.stats.work_orders == 15
    assert hq.replayed() == 0  # fresh events on the first connection are live, not replayed
