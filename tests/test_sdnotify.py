"""sd_notify: READY/STATUS/WATCHDOG datagrams on a real AF_UNIX socket, and the kiosk's
watchdog that stops pinging when the core hangs."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config
from kiosk import sdnotify
from kiosk.app import KioskApp


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    # Short path: AF_UNIX paths are limited to 108 bytes.
    path = Path("/tmp") / f"sdn-{os.getpid()}-{tmp_path.name[-20:]}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock
    sock.close()
    path.unlink(missing_ok=True)


def recv(sock: socket.socket, timeout: float = 5) -> str:
    sock.settimeout(timeout)
    return sock.recv(4096).decode()


def env_for(sock: socket.socket, usec: int = 0) -> dict[str, str]:
    env = {"NOTIFY_SOCKET": sock.getsockname()}
    if usec:
        env.update(WATCHDOG_USEC=str(usec), WATCHDOG_PID=str(os.getpid()))
    return env


def test_ready_status_and_stopping_reach_the_socket(notify_socket):
    n = sdnotify.Notifier(env_for(notify_socket))
    assert n.enabled
    assert n.ready("counter w01\nready")
    assert recv(notify_socket) == "READY=1\nSTATUS=counter w01 ready"
    n.status("draining 12 events")
    assert recv(notify_socket) == "STATUS=draining 12 events"
    n.stopping()
    assert recv(notify_socket) == "STOPPING=1"


def test_outside_systemd_everything_is_a_quiet_no_op():
    n = sdnotify.Notifier({})
    assert not n.enabled
    assert n.ready("x") is False and n.ping() is False
    assert n.watchdog_interval() is None
    w = sdnotify.start_service(lambda: True, notifier=n)
    assert w.interval is None  # no thread started
    w.stop()


def test_watchdog_interval_is_half_of_watchdog_usec_and_only_for_our_pid(notify_socket):
    assert sdnotify.Notifier(env_for(notify_socket, 30_000_000)).watchdog_interval() == 15.0
    other = {**env_for(notify_socket, 30_000_000), "WATCHDOG_PID": str(os.getpid() + 1)}
    assert sdnotify.Notifier(other).watchdog_interval() is None
    assert sdnotify.Notifier({**other, "WATCHDOG_USEC": "junk"}).watchdog_interval() is None


def test_watchdog_pings_only_while_the_heartbeat_is_fresh(notify_socket):
    now = [100.0]
    beat = sdnotify.Heartbeat(10.0, clock=lambda: now[0])
    w = sdnotify.Watchdog(sdnotify.Notifier(env_for(notify_socket)), beat.alive, interval=1)
    assert w.check_once()
    assert recv(notify_socket) == "WATCHDOG=1"
    now[0] += 10.5  # the loop stopped beating
    assert not w.check_once()
    with pytest.raises(TimeoutError):
        recv(notify_socket, timeout=0.2)
    beat.beat()
    assert w.check_once()
    assert recv(notify_socket) == "WATCHDOG=1"
    assert (w.pings, w.missed) == (2, 1)


def test_a_liveness_check_that_raises_counts_as_dead(notify_socket):
    def broken() -> bool:
        raise RuntimeError("boom")

    w = sdnotify.Watchdog(sdnotify.Notifier(env_for(notify_socket)), broken, interval=1)
    assert not w.check_once()


def test_abstract_socket_names_are_supported():
    n = sdnotify.Notifier({"NOTIFY_SOCKET": "@counter-kiosk-test"})
    assert n.address == "\0counter-kiosk-test"


def test_kiosk_sends_ready_then_pings_and_stops_pinging_when_the_core_hangs(
        tmp_path, notify_socket, monkeypatch):
    # 0.2 s WatchdogSec: a ping every 0.1 s.
    for key, value in env_for(notify_socket, 200_000).items():
        monkeypatch.setenv(key, value)
    config = Config().with_state_dir(tmp_path / "state").simulated()
    app = KioskApp(config, headless=True)
    app.heartbeat.max_age_s = 0.5
    core = app.setup()
    try:
        assert recv(notify_socket).startswith("READY=1\nSTATUS=counter demo-w01 ready")
        assert recv(notify_socket) == "WATCHDOG=1"
        # A hung core: something holds the core lock forever, so ticks stop getting through.
        with core._lock:
            got_silence = False
            for _ in range(40):
                try:
                    recv(notify_socket, timeout=0.6)
                except TimeoutError:
                    got_silence = True
                    break
            assert got_silence, "watchdog kept pinging while the core was hung"
        assert recv(notify_socket, timeout=5) == "WATCHDOG=1"  # recovered: pings resume
    finally:
        app.close()
    # close() says STOPPING=1 (possibly after a last ping already in flight).
    msgs = [recv(notify_socket, timeout=2) for _ in range(1)]
    while msgs[-1] == "WATCHDOG=1":
        msgs.append(recv(notify_socket, timeout=2))
    assert msgs[-1] == "STOPPING=1"
