"""Fixtures for the sync and HQ tests: a real Mosquitto, outboxes, a collector, checks.

The broker is `/usr/sbin/mosquitto -c conf` on 127.0.0.1 and a free port; it counts as
up when it logs "running" (read from its stderr with a deadline, no sleeping). A port
found free can be taken before Mosquitto binds it: it then logs "Address already in use"
and exits, and the broker is started again on other ports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pwd
import queue
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from device.config import Config, MqttSection
from device.events import Draft, EventType, seal, verify_chain
from device.store import Store
from hq.collector import BrokerOptions, Collector, CollectorStats
from hq.store import HqStore
from kiosk.sdnotify import Heartbeat
from sync.uplink import Stats, Syncer
from tests.sync.pg import hq_url, pg_cluster, pg_url  # noqa: F401 (fixtures: SQLite and PostgreSQL)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

# Wakes ``until``: notified on every change of a watched syncer's or collector's counters
# and on every broker log line.
_changes = threading.Condition()


def _changed() -> None:
    with _changes:
        _changes.notify_all()


@dataclasses.dataclass
class WatchedStats(Stats):
    """A syncer's counters; each change wakes ``until``."""

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        _changed()


@dataclasses.dataclass
class WatchedCollectorStats(CollectorStats):
    """A collector's counters; each change wakes ``until``."""

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        _changed()


class _WakeOnLog(logging.Handler):
    """Every log record wakes ``until``: a predicate on logged text (caplog) or on what
    a component logs as it changes state re-checks when the record is written."""

    def emit(self, record: logging.LogRecord) -> None:
        _changed()


logging.getLogger().addHandler(_WakeOnLog())


def until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Wait until ``predicate()`` holds; False after ``timeout``. Re-checked on each change
    of what the fixtures watch (``Running`` syncers' and ``hq_factory`` collectors' stats,
    broker log lines, log records), never on a clock: a predicate on anything else never
    wakes it."""
    with _changes:
        return _changes.wait_for(predicate, timeout)


def free_port() -> int:
    """A port free now: only a candidate, another process may take it before it is
    bound (``Mosquitto.start`` retries on that)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BIND_TRIES = 5


class Mosquitto:
    """One broker process; ``restart`` keeps the port and the persistence file.

    ``{extra_port}`` in ``extra`` is a second listener's port, chosen (and re-chosen when
    it was taken) like ``port``."""

    def __init__(self, workdir: Path, extra: str = "", port: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.fixed_port = port is not None
        self.port = port or free_port()
        self.extra_port = free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []

    def conf(self) -> Path:
        path = self.workdir / "mosquitto.conf"
        path.write_text(
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"  # as root it would switch users
            f"per_listener_settings false\n"
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {self.workdir}/\n"
            "autosave_interval 0\n"
            "max_inflight_messages 1000\nmax_queued_messages 0\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\n"
            + (self.extra.replace("{extra_port}", str(self.extra_port))
               or "allow_anonymous true\n"))
        return path

    def start(self, timeout: float = 10.0) -> None:
        for _ in range(BIND_TRIES):
            if self._start(timeout):
                return
            if self.fixed_port:  # a restart must keep its port: nothing to choose
                break
            self.port, self.extra_port = free_port(), free_port()
        raise RuntimeError("mosquitto could not bind: " + "\n".join(self.log))

    def _start(self, timeout: float) -> bool:
        """True once running; False if a port was taken before it could bind it."""
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf())],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lines: queue.Queue[str] = queue.Queue()
        self.lines = lines
        proc = self.proc

        def pump() -> None:
            # stderr: unbuffered, so each log line arrives as it is written.
            assert proc.stderr is not None
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self.log.append(line)
                lines.put(line)
                _changed()
            lines.put("")  # EOF

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError("mosquitto did not start: " + "\n".join(self.log)) from None
            if not line:
                self.proc.wait(timeout)
                self.proc = None
                if any("Address already in use" in x for x in self.log[-3:]):
                    return False
                raise RuntimeError("mosquitto exited: " + "\n".join(self.log))
            if " running" in line:
                # From now on the port is ours: a restart reuses it.
                self.fixed_port = True
                return True

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not os.path.exists(MOSQUITTO):
        pytest.skip("mosquitto is not installed (setup.sh installs it)")
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


def device_config(tmp_path: Path, port: int, *, device: str = "w01", site: str = "s1",
                  **mqtt: object) -> Config:
    cfg = Config().with_state_dir(tmp_path / f"state-{device}").simulated()
    options: dict[str, object] = {"health_interval_s": 3600.0, "tls": False, **mqtt}
    m = dataclasses.replace(MqttSection(), host="127.0.0.1", port=port,
                            **options)  # type: ignore[arg-type]
    return dataclasses.replace(cfg, mqtt=m, device=dataclasses.replace(
        cfg.device, site=site, id=device))


@pytest.fixture
def syncer(tmp_path: Path) -> Iterator[Syncer]:
    """A Syncer that never connects (port 1): its handlers are fed messages directly."""
    s = Syncer(device_config(tmp_path, 1))
    yield s
    s.close()


def fill_outbox(cfg: Config, n: int, *, per_commit: int = 500,
                start: datetime | None = None, span: timedelta | None = None,
                unsatisfied_every: int = 0) -> list[str]:
    """Append ``n`` events to the device's store; returns their ids.

    With ``start``/``span`` the events are sealed with timestamps spread over that span
    (a backlog written while the network was down), chained exactly as the store does.
    """
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    ids: list[str] = []
    # Case numbers are unique per counter (HQ opens one work order per case): a second
    # call on the same counter must not reuse C0, C4, ...
    batch = secrets.token_hex(3)
    try:
        done = 0
        while done < n:
            k = min(per_commit, n - done)
            drafts = []
            for i in range(done, done + k):
                if unsatisfied_every and i % unsatisfied_every == 0:
                    drafts.append(Draft(EventType.RATING_GIVEN, {
                        "case_no": f"C{i}-{batch}", "service": "id_card.renew",
                        "officer": "000001",
                        "level": "unsatisfied", "score": 2, "unsatisfied": True}))
                else:
                    drafts.append(Draft(EventType.TICKET_ISSUED,
                                        {"number": f"A{i % 1000:03d}", "service": "hukou"}))
            if start is None:
                ids.extend(e.id for e in store.append(drafts))
            else:
                assert span is not None
                with store.transaction() as conn:
                    seq, prev = store._head(conn)
                    for j, d in enumerate(drafts):
                        seq += 1
                        when = start + span * ((done + j) / max(1, n))
                        env = seal(d, site=cfg.device.site, device=cfg.device.id, seq=seq,
                                   prev=prev, ts=when)
                        conn.execute("INSERT INTO events (seq, id, type, ts, critical, body) "
                                     "VALUES (?, ?, ?, ?, 1, ?)",
                                     (env.seq, env.id, env.type, env.ts, env.to_json()))
                        prev = env.hash
                        ids.append(env.id)
                    store._set_head(conn, seq, prev)
            done += k
    finally:
        store.close()
    return ids


def device_events(cfg: Config) -> list[dict[str, object]]:
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    try:
        return store.events()
    finally:
        store.close()


def unsent(cfg: Config) -> int:
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    try:
        return store.count_unsent()
    finally:
        store.close()


@dataclasses.dataclass
class Hq:
    db_path: Path
    store: HqStore
    collector: Collector

    def count(self) -> int:
        reader = HqStore.open(str(self.db_path))
        try:
            return reader.count()
        finally:
            reader.close()

    def replayed(self) -> int:
        reader = HqStore.open(str(self.db_path))
        try:
            row = reader.db.one("SELECT count(*) FROM hq_events WHERE replayed = 1")
            return int(row[0]) if row else 0
        finally:
            reader.close()

    def wait_count(self, n: int, timeout: float = 60.0) -> bool:
        return self.collector.wait_for(lambda c: self.count() >= n, timeout)

    def assert_complete(self, cfg: Config, expected_ids: list[str] | None = None,
                        problems: int = 0) -> None:
        """Every event of the device exactly once, no seq gap, the chain verifies
        (``problems``: forged events on record, none of them among the events)."""
        reader = HqStore.open(str(self.db_path))
        try:
            key = (cfg.device.site, cfg.device.id)
            local = device_events(cfg)
            ids = expected_ids if expected_ids is not None else [str(e["id"]) for e in local]
            rows = reader.db.all("SELECT id, body FROM hq_events WHERE site = ? AND device = ? "
                                 "ORDER BY seq", key)
            got = [r[0] for r in rows]
            assert len(got) == len(set(got))
            assert set(got) == set(ids), (len(got), len(ids))
            import json

            evs = [json.loads(r[1]) for r in rows]
            assert verify_chain(evs) == []
            (status,) = [d for d in reader.integrity() if (d["site"], d["device"]) == key]
            assert status["gaps"] == []
            assert status["problems"] == problems
            assert status["verified_seq"] == status["max_seq"] == len(ids)
        finally:
            reader.close()


@pytest.fixture
def hq_factory(tmp_path: Path) -> Iterator[Callable[..., Hq]]:
    made: list[Hq] = []

    def make(port: int, client_id: str = "hq-test-1", db: Path | None = None) -> Hq:
        path = db or tmp_path / "hq.db"
        store = HqStore.open(str(path))
        col = Collector(store, BrokerOptions(port=port, client_id=client_id), repair_s=0.5,
                        heartbeat=Heartbeat(max_age_s=60.0))
        col.stats = WatchedCollectorStats()
        col.start()
        assert col.subscribed.wait(10), "collector did not subscribe"
        hq = Hq(path, store, col)
        made.append(hq)
        return hq

    yield make
    for hq in made:
        with contextlib.suppress(Exception):
            hq.collector.stop()
        hq.store.close()


@pytest.fixture
def hq(broker: Mosquitto, hq_factory: Callable[..., Hq]) -> Hq:
    return hq_factory(broker.port)


class TcpProxy:
    """A tiny TCP proxy on 127.0.0.1; ``cut()`` drops every open connection at once
    (a NAT timeout or a flaky 4G link), new connections still get through."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            for s in (client, up):  # no Nagle: MQTT acks are tiny and latency-bound
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns += [client, up]
                self.accepted += 1
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> int:
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        return len(conns) // 2

    def close(self) -> None:
        self.server.close()
        self.cut()


class Running:
    def __init__(self, cfg: Config) -> None:
        self.syncer = Syncer(cfg, reconnect_min_s=0.05, reconnect_max_s=0.5,
                             stats=WatchedStats())
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
