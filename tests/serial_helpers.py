"""Test helpers for the serial drivers: real pty pairs, a fake device on the master side,
a by-id style symlink that can be pointed at a new pty (a USB adapter re-enumerated), and
a watcher that waits for core changes without sleeping."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from device.core import Change, Core


class Pty:
    """A pty pair: the driver opens ``path`` (the slave) through serial_for_url; the test
    reads and writes ``master``. The slave fd stays open here so the master never sees
    EIO before the driver opens the port."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing, no CR/LF mangling
        self.path = os.ttyname(self.slave)
        self.closed = False

    def close(self) -> None:
        """Unplug: the driver's next read or write fails with EIO."""
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, stop: bytes, timeout: float = 5.0, limit: int = 1 << 20) -> bytes:
        """Read from the master until ``stop`` has been seen (or raise TimeoutError)."""
        buf = b""
        deadline = time.monotonic() + timeout
        while stop not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or len(buf) > limit:
                raise TimeoutError(f"no {stop!r} from the driver; got {buf!r}")
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                buf += os.read(self.master, 65536)
        return buf


class FakeDevice:
    """Answers the driver from the master side of a pty: ``handler(bytes) -> reply``."""

    def __init__(self, pty: Pty, handler: Callable[[bytes], bytes]) -> None:
        self.pty = pty
        self.handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.pty.master], [], [], 0.02)
                if not r:
                    continue
                data = os.read(self.pty.master, 4096)
            except OSError:
                return  # closed under us
            reply = self.handler(data)
            if reply:
                with contextlib.suppress(OSError):
                    os.write(self.pty.master, reply)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Replug:
    """A stable port name (like /dev/serial/by-id/...) that points at the current pty."""

    def __init__(self, tmp_path: Path) -> None:
        self.link = tmp_path / "usb-serial-by-id"
        self.pty = Pty()
        self.link.symlink_to(self.pty.path)

    @property
    def url(self) -> str:
        return str(self.link)

    def unplug(self) -> None:
        self.pty.close()
        self.link.unlink()

    def plug(self) -> Pty:
        self.pty = Pty()
        self.link.symlink_to(self.pty.path)
        return self.pty


class Watcher:
    """Wakes the test on every core change; ``wait(pred)`` re-checks ``pred`` each time."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.changes: list[Change] = []
        self._cond = threading.Condition()
        core.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    def poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait(self, pred: Callable[[], bool], timeout: float = 5.0) -> None:
        """Re-checks ``pred`` on each core change (or ``poke``), never on a clock: a
        condition that changes without one needs its own ``poke``."""
        with self._cond:
            if not self._cond.wait_for(pred, timeout):
                raise TimeoutError("condition not reached")

    def event_types(self) -> list[str]:
        with self._cond:
            return [e.type for c in self.changes for e in c.events]

    def notices(self) -> list[tuple[str, str]]:
        with self._cond:
            return [(c.notice, c.notice_kind) for c in self.changes if c.notice]
