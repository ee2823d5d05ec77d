"""A tiny sd_notify client (stdlib only): READY=1, STATUS=..., STOPPING=1 and WATCHDOG=1.

The units are ``Type=notify`` with ``WatchdogSec=``: systemd waits for READY=1 before it
calls the service started, and restarts it when WATCHDOG=1 stops arriving. A process
that is alive but stuck (a deadlocked core, a hung publish loop) is the case the watchdog
is for, so pings are conditional: :class:`Watchdog` pings only while ``alive()`` says the
work loop made progress recently (see :class:`Heartbeat`). A hung loop stops the pings
and systemd restarts the service.

Outside systemd (``NOTIFY_SOCKET`` unset: a terminal, the tests) everything here is a
no-op, so callers never need to ask whether they run under systemd.

Wiring (the kiosk does this in kiosk/app.py; kiosk-sync and kiosk-hq the same way)::

    beat = Heartbeat(max_age_s=30)
    ... the work loop calls beat.beat() after each successful round ...
    watchdog = start_service(beat.alive, status="publishing")   # READY=1 + ping thread
    ...
    watchdog.stop()                                               # STOPPING=1
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("sdnotify")


class Notifier:
    """Sends datagrams to ``$NOTIFY_SOCKET``; silent when there is none."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace (leading NUL byte).
        self.address = "\0" + path[1:] if path.startswith("@") else path
        self.watchdog_usec = _watchdog_usec(env)

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; False if not under systemd or it failed."""
        if not self.address:
            return False
        payload = "\n".join(fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto(payload, self.address)
        except OSError as exc:
            # Never let the notification channel take the service down.
            log.warning("sd_notify to %r failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_one_line(text)}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def ping(self) -> bool:
        return self.send("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half of WatchdogSec (what sd_watchdog_enabled advises)."""
        if not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2_000_000


def _watchdog_usec(env: Mapping[str, str]) -> int:
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return 0
    pid = env.get("WATCHDOG_PID", "")
    # systemd sets WATCHDOG_PID to the main PID; a child that inherited the environment
    # must not ping on the parent's behalf.
    if pid and pid != str(os.getpid()):
        return 0
    return max(usec, 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


class Heartbeat:
    """The work loop calls :meth:`beat` after each round; :meth:`alive` is the watchdog's
    question "did it make progress within ``max_age_s``?"."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def age(self) -> float:
        return self._clock() - self._last

    def alive(self) -> bool:
        return self.age() <= self.max_age_s


class Watchdog:
    """Pings WATCHDOG=1 every ``interval`` seconds while ``alive()`` is true."""

    def __init__(self, notifier: Notifier, alive: Callable[[], bool],
                 interval: float | None = None) -> None:
        self.notifier = notifier
        self.alive = alive
        self.interval = interval if interval is not None else notifier.watchdog_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pings = 0
        self.missed = 0

    def check_once(self) -> bool:
        """One round: ping if alive. Returns whether it pinged."""
        try:
            ok = bool(self.alive())
        except Exception:
            log.exception("watchdog liveness check failed")
            ok = False
        if ok:
            self.notifier.ping()
            self.pings += 1
            return True
        self.missed += 1
        if self.missed == 1 or self.missed % 10 == 0:
            log.error("work loop made no progress; withholding WATCHDOG=1 so systemd "
                      "restarts the service (missed %d)", self.missed)
        return False

    def start(self) -> None:
        if not self.interval or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            self.check_once()

    def stop(self) -> None:
        self._stop.set()
        self.notifier.stopping()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def start_service(alive: Callable[[], bool], status: str = "",
                  notifier: Notifier | None = None) -> Watchdog:
    """READY=1 (with a STATUS line) and, if WatchdogSec is set, the ping thread.

    Call it once the service can do its job (store open, loop running). Returns the
    watchdog; call ``.stop()`` on shutdown (sends STOPPING=1).
    """
    notifier = notifier or Notifier()
    notifier.ready(status)
    watchdog = Watchdog(notifier, alive)
    watchdog.start()
    if notifier.enabled:
        log.info("sd_notify: READY sent; watchdog %s",
                 f"every {watchdog.interval:g} s" if watchdog.interval else "off")
    return watchdog
