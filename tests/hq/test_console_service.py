"""`kiosk-hq serve` as a systemd notify service: READY=1 once it listens, WATCHDOG=1 only
while its health page answers from the database."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

from tests.hq.console import Console
from tests.test_sdnotify import notify_socket, recv  # noqa: F401  (fixture)


def test_serve_says_ready_and_pings_while_it_answers(tmp_path: Path,
                                                     notify_socket: socket.socket) -> None:  # noqa: F811
    console = Console(tmp_path)
    # WatchdogSec=0.4 s: a ping every 0.2 s, each after a real request to /healthz.
    console.start({"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "400000"})
    try:
        assert recv(notify_socket, timeout=30).startswith("READY=1\nSTATUS=serving on ")
        assert recv(notify_socket, timeout=10) == "WATCHDOG=1"
        with urllib.request.urlopen(console.url + "/healthz", timeout=10) as reply:
            assert reply.read() == b"ok"  # and nothing else: it is not behind the login
    finally:
        console.stop()
        console.store.close()
