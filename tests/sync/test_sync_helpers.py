"""The sync tests' own helpers: a broker whose port was taken starts on another one, and
``until`` wakes on the changes it watches, not on a clock."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

import tests.sync.conftest as helpers
from tests.sync.conftest import Mosquitto, WatchedStats, until

pytestmark = pytest.mark.broker


def test_broker_starts_on_another_port_when_its_port_was_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        real = helpers.free_port
        candidates = iter([port, port])  # the race: both ports taken before the bind
        monkeypatch.setattr(helpers, "free_port", lambda: next(candidates, None) or real())
        b = Mosquitto(tmp_path / "broker", extra="allow_anonymous true\n"
                      "listener {extra_port} 127.0.0.1\n")
        assert (b.port, b.extra_port) == (port, port)
        b.start()
        try:
            assert port not in (b.port, b.extra_port)
            assert any("Address already in use" in line for line in b.log)
            for p in (b.port, b.extra_port):
                socket.create_connection(("127.0.0.1", p), timeout=5).close()
        finally:
            b.stop()


def test_until_is_woken_by_a_change_and_never_polls() -> None:
    checks: list[int] = []

    def never() -> bool:
        checks.append(1)
        return False

    assert not until(never, timeout=0.5)
    assert len(checks) <= 2  # once before waiting, once at the deadline: no clock ticks

    stats = WatchedStats()
    go = threading.Event()

    def bump() -> None:
        go.wait(5)
        stats.published += 1

    t = threading.Thread(target=bump)
    t.start()
    go.set()
    assert until(lambda: stats.published == 1, timeout=10)
    t.join(5)
