"""Mid-drain failures with a real broker. After each: HQ holds every event exactly once,
no seq gap, the chain verifies, and the outbox is empty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device.config import Config
from kiosk.control import ControlClient
from sync.uplink import Syncer
from tests.sync.conftest import (
    Hq,
    Mosquitto,
    Running,
    TcpProxy,
    device_config,
    fill_outbox,
    unsent,
    until,
)

pytestmark = pytest.mark.broker


def _drained(hq: Hq, cfg: Config, n: int, syncer: Syncer, timeout: float = 60.0) -> None:
    assert hq.wait_count(n, timeout=timeout), f"HQ has {hq.count()} of {n}"
    assert syncer.idle.wait(10), "the outbox did not empty"
    assert unsent(cfg) == 0


def test_broker_restart_mid_drain(tmp_path: Path, broker: Mosquitto, hq: Hq,
                                  running: list[Running]) -> None:
    # Health every second: a tail the broker dropped while HQ's session was away is
    # noticed from the device's head_seq (HQ then asks for it again).
    cfg = device_config(tmp_path, broker.port, inflight=5, batch=1, health_interval_s=1.0)
    ids = fill_outbox(cfg, 4000)
    r = Running(cfg)
    running.append(r)
    # Counted on the device (HQ's count lags the broker's acknowledgements).
    assert until(lambda: r.syncer.stats.acked >= 500, 30), r.syncer.stats
    assert unsent(cfg) > 0, "the drain finished before the restart: the test proves nothing"
    broker.restart()
    _drained(hq, cfg, len(ids), r.syncer)
    hq.assert_complete(cfg, ids)
    assert r.syncer.stats.connections >= 2


def test_connection_cut_by_proxy(tmp_path: Path, broker: Mosquitto, hq: Hq,
                                 running: list[Running]) -> None:
    proxy = TcpProxy(broker.port)
    try:
        cfg = device_config(tmp_path, proxy.port, inflight=5, batch=1)
        ids = fill_outbox(cfg, 5000)
        r = Running(cfg)
        running.append(r)
        for threshold in (500, 2000):
            # Counted on the device (HQ's count lags the broker's acknowledgements).
            assert until(lambda t=threshold: r.syncer.stats.acked >= t, 30), r.syncer.stats
            assert unsent(cfg) > 0
            assert proxy.cut() >= 1
        _drained(hq, cfg, len(ids), r.syncer)
        hq.assert_complete(cfg, ids)
        assert r.syncer.stats.connections >= 3
        assert proxy.accepted >= 3
        # What was queued before a reconnect went out again flagged as replayed.
        assert 0 < hq.replayed() < len(ids)
    finally:
        proxy.close()


def test_week_long_backlog(tmp_path: Path, broker: Mosquitto, hq: Hq,
                           running: list[Running]) -> None:
    cfg = device_config(tmp_path, broker.port, batch=50)
    start = datetime.now(UTC) - timedelta(days=7)
    ids = fill_outbox(cfg, 30_000, per_commit=5000, start=start, span=timedelta(days=7))
    r = Running(cfg)
    running.append(r)
    _drained(hq, cfg, len(ids), r.syncer, timeout=90)
    hq.assert_complete(cfg, ids)
    # Everything older than replay_after_s when sent carries the replayed flag.
    assert hq.replayed() == 30_000


def _write_config(tmp_path: Path, cfg: Config) -> Path:
    path = tmp_path / f"{cfg.device.id}.toml"
    path.write_text(
        f'[device]\nsite = "{cfg.device.site}"\nid = "{cfg.device.id}"\n'
        f'state_dir = "{cfg.state_dir}"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {cfg.mqtt.port}\ntls = false\n'
        f'inflight = {cfg.mqtt.inflight}\nbatch = {cfg.mqtt.batch}\n'
        'health_interval_s = 3600.0\n\n[gpio]\nbounce_ms = 1\n\n'
        # The test's workstation sends cases faster than any officer types; the link's
        # own limit is tested in tests/test_sim_wire.py.
        '[link]\nmax_lines_per_s = 1000\n\n'
        '[logging]\nlevel = "INFO"\n')
    return path


SYNC = [sys.executable, "-c",
        "import sys; from kiosk.sync_cli import main_sync; sys.exit(main_sync())"]


def test_sigkill_of_kiosk_sync_mid_drain(tmp_path: Path, broker: Mosquitto, hq: Hq) -> None:
    cfg = device_config(tmp_path, broker.port, inflight=2, batch=1)
    ids = fill_outbox(cfg, 6000)
    conf = _write_config(tmp_path, cfg)
    proc = subprocess.Popen([*SYNC, "--config", str(conf)], stdout=subprocess.DEVNULL)
    try:
        # The kill comes once the counter has 500 marked sent, read at each event HQ
        # stores: HQ's own count lags the broker's queue, and a fast HQ once let the
        # whole drain finish before its count reached 500.
        assert until(lambda: unsent(cfg) <= len(ids) - 500, 30), unsent(cfg)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # Killed mid-drain. Acknowledged rows are marked in groups (every 100 ms), so
        # the kill may come before any mark was committed: left can be all of them, and
        # the rerun then publishes again what HQ already has (HQ keeps it once).
        left = unsent(cfg)
        assert 0 < left <= len(ids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    again = subprocess.run([*SYNC, "--config", str(conf), "--drain"], timeout=60,
                           stdout=subprocess.DEVNULL)
    assert again.returncode == 0
    assert unsent(cfg) == 0
    assert hq.wait_count(len(ids), timeout=30)
    hq.assert_complete(cfg, ids)


class Kiosk:
    """`kiosk run --simulate --headless` as a subprocess, ready when it says so."""

    def __init__(self, conf: Path, cfg: Config) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())",
             "run", "--config", str(conf), "--simulate", "--headless"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        ready = threading.Event()
        self.lines: list[str] = []

        def pump() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                self.lines.append(raw.decode("utf-8", "replace"))
                if "kiosk ready" in self.lines[-1]:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        assert ready.wait(30), "kiosk did not start:\n" + "".join(self.lines)
        self.control = ControlClient(cfg.control_socket)

    def cases(self, first: int, n: int) -> int:
        """Serve and rate ``n`` cases; returns how many ratings were taken."""
        taken = 0
        for i in range(first, first + n):
            c = self.control
            r1 = c.request({"cmd": "link", "line": json.dumps(
                {"op": "case_start", "case_no": f"K{i:05d}", "service": "id_card.renew"})})
            r2 = c.request({"cmd": "link", "line": json.dumps({"op": "case_end"})})
            r3 = c.request({"cmd": "press", "button": "satisfied" if i % 7 else "unsatisfied"})
            assert r1["reply"]["ok"] and r2["reply"]["ok"], (r1, r2)
            # A press inside the debounce window of the previous one is ignored (as a
            # real button would be); the case then times out to rating.skipped later.
            taken += bool(r3.get("taken"))
        return taken

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def test_sigkill_of_the_counter_mid_drain(tmp_path: Path, broker: Mosquitto, hq: Hq,
                                          running: list[Running]) -> None:
    cfg = device_config(tmp_path, broker.port)
    conf = _write_config(tmp_path, cfg)
    kiosk = Kiosk(conf, cfg)
    try:
        r = Running(cfg)
        running.append(r)
        assert kiosk.cases(0, 40) >= 30
        kiosk.kill()
        kiosk = Kiosk(conf, cfg)  # restarts on the same database
        assert kiosk.cases(40, 20) >= 15
    finally:
        if kiosk.proc.poll() is None:
            kiosk.proc.terminate()
            kiosk.proc.wait(timeout=10)
    from tests.sync.conftest import device_events

    n = len(device_events(cfg))
    assert n >= 60 * 2 + 45
    _drained(hq, cfg, n, r.syncer)
    hq.assert_complete(cfg)
