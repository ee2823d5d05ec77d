"""Two `kiosk-hq collect` processes share the subscription on one PostgreSQL database,
and one of them is SIGKILLed while the counters drain: HQ ends with every event once,
every chain verified and one work order per unsatisfied case, opened once.

What the killed one had taken from the broker but not committed is lost with it; the
counters publish it again when HQ does not confirm it (mqtt.confirm_timeout_s), and the
survivor stores it. What it had committed but not acknowledged comes again as well, and
is a duplicate the survivor keeps once.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hq.store import HqStore
from tests.sync.conftest import Mosquitto, Running, device_config, fill_outbox, until

REPO = Path(__file__).resolve().parents[2]
COUNTERS = ("w01", "w02", "w03", "w04")
PER_COUNTER = 1500
UNSATISFIED_EVERY = 25


class Collect:
    """`kiosk-hq collect` as a subprocess; ready once it has subscribed."""

    def __init__(self, url: str, port: int, client_id: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from kiosk.sync_cli import main_hq; sys.exit(main_hq())",
             "collect", "--db", url, "--host", "127.0.0.1", "--port", str(port),
             "--client-id", client_id],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        while not any(" subscribed" in x for x in self.seen):
            try:
                self.seen.append(self.lines.get(timeout=30))
            except queue.Empty:
                raise AssertionError(f"{client_id} did not subscribe: {self.seen}") from None

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def test_one_of_two_collectors_sigkilled_mid_run_loses_nothing_and_doubles_nothing(
        tmp_path: Path, broker: Mosquitto, pg_url: str, running: list[Running]) -> None:
    a = Collect(pg_url, broker.port, "hq-a")
    b = Collect(pg_url, broker.port, "hq-b")
    reader = HqStore.open(pg_url)
    try:
        cfgs, ids = [], set()
        for dev in COUNTERS:
            cfg = device_config(tmp_path, broker.port, device=dev, confirm_timeout_s=2.0)
            ids |= set(fill_outbox(cfg, PER_COUNTER, unsatisfied_every=UNSATISFIED_EVERY))
            cfgs.append(cfg)
        # Half the counters drain first and the kill comes while they do (a third of
        # theirs are in); the other half start after it, so the kill is mid-run however
        # fast the collectors store: a fast HQ once stored everything before the kill.
        first, second = cfgs[:len(cfgs) // 2], cfgs[len(cfgs) // 2:]
        for cfg in first:
            running.append(Running(cfg))
        assert until(lambda: reader.count() >= len(first) * PER_COUNTER // 3, 60), \
            reader.count()
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        assert reader.count() < len(ids)  # killed mid-run, not after
        for cfg in second:
            running.append(Running(cfg))
        assert until(lambda: reader.count() == len(ids), 120), (reader.count(), len(ids))
        assert until(lambda: all(r.syncer.idle.is_set() for r in running), 60)

        rows = reader.db.all("SELECT id FROM hq_events")
        assert len(rows) == len(ids) and {r[0] for r in rows} == ids  # each once
        for status in reader.integrity():
            assert (status["gaps"], status["problems"]) == ([], 0), status
            assert status["verified_seq"] == status["max_seq"] == PER_COUNTER, status
        cases = reader.db.all("SELECT site, device, case_no FROM work_orders")
        unsatisfied = len(range(0, PER_COUNTER, UNSATISFIED_EVERY)) * len(COUNTERS)
        assert len(cases) == len(set(cases)) == unsatisfied
        opened = reader.db.all("SELECT order_id, count(*) FROM work_order_audit "
                               "WHERE action = 'opened' GROUP BY order_id")
        assert len(opened) == unsatisfied and {n for _o, n in opened} == {1}
        assert b.proc.poll() is None  # the survivor stored the rest
    finally:
        reader.close()
        b.stop()
        if a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
