"""The kiosk process: lock the state directory, build the counter (kiosk/build.py), start
its drivers, the control socket and the ticker, then run the Kivy UI or, headless, wait
for SIGTERM.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import Config
from device.core import Core
from device.errors import ConfigError, KioskError
from device.intents import ConfirmDocument, Tick
from kiosk import sdnotify
from kiosk.build import Counter, build_counter
from kiosk.control import ControlServer, Handler

log = logging.getLogger("app")

TICK_S = 0.25  # resolution of the rating timeout
# The systemd watchdog is fed only while ticks get through the core: a core stuck this
# long (a deadlock, a hung commit) stops the pings and systemd restarts the kiosk.
HEARTBEAT_MAX_AGE_S = 15.0


class KioskApp:
    def __init__(self, config: Config, *, headless: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock  # the counter's wall clock (benchmarks run a simulated week)
        self.headless = headless
        self.stop_event = threading.Event()
        self.counter: Counter | None = None
        self.core: Core | None = None
        self.control: ControlServer | None = None
        self.heartbeat = sdnotify.Heartbeat(HEARTBEAT_MAX_AGE_S)
        self.watchdog: sdnotify.Watchdog | None = None
        self._lock_fd: int | None = None

    def setup(self) -> Core:
        cfg = self.config
        prepare_state_dir(cfg.state_dir)
        self._lock_state_dir()
        counter = self.counter = build_counter(cfg, clock=self.clock)
        core = self.core = counter.core
        handlers: dict[str, Handler] = core_commands(core)
        if self.headless and cfg.link.simulated:
            # No screen to tap 确认 on: the simulation's citizen confirms from the shell.
            handlers["confirm"] = citizen_confirm(core)
        handlers.update(counter.start_drivers())
        self.control = ControlServer(cfg.control_socket, handlers)
        self.control.start()
        core.start()
        threading.Thread(target=self._tick, name="ticker", daemon=True).start()
        self.heartbeat.beat()
        self.watchdog = sdnotify.start_service(
            self.heartbeat.alive, status=f"counter {cfg.device.id} ready")
        log.info("kiosk ready device=%s control=%s db=%s", cfg.device.id,
                 cfg.control_socket, cfg.db_path)
        return core

    def _lock_state_dir(self) -> None:
        """One kiosk per state directory: a second one would take over the control socket
        and write the same database with another idea of the counter's state. The kernel
        drops the lock when the process dies, also on SIGKILL."""
        path = self.config.state_dir / "kiosk.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateDirError(
                f"cannot open the lock file {path}: {exc.strerror}. Fix: {_fix_for(exc, path)}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 16).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise KioskError(
                f"another kiosk (pid {holder}) is running with state directory "
                f"{self.config.state_dir}. Fix: stop it first (systemctl stop kiosk), or "
                "give this one its own --state-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _tick(self) -> None:
        assert self.core is not None
        while not self.stop_event.wait(TICK_S):
            try:
                self.core.submit(Tick(time.time()))
                self.heartbeat.beat()
            except Exception:
                log.exception("tick failed")

    def run(self) -> int:
        core = self.setup()
        try:
            if self.headless:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: self.stop_event.set())
                self.stop_event.wait()
            else:
                from ui import app as ui  # Kivy loads only when there is a screen

                assert self.counter is not None
                ui.run(core, self.counter.desk, self.config, self.counter.hall)
        finally:
            self.close()
        return 0

    def close(self) -> None:
        self.stop_event.set()
        if self.watchdog:
            self.watchdog.stop()
        if self.control:
            self.control.close()
        if self.counter:
            self.counter.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None
        log.info("kiosk stopped")


class StateDirError(ConfigError):
    """The state directory (device.state_dir, --state-dir) cannot hold the counter's files.

    A ConfigError, so the CLI exits 2: the fix is in the configuration or on the disk,
    and a restart without it would fail the same way."""


def _user() -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    except (ImportError, KeyError):
        return f"uid {os.geteuid()}"


def _fix_for(exc: OSError, path: Path) -> str:
    if isinstance(exc, PermissionError):
        return (f"let {_user()} write it (e.g. `sudo chown -R kiosk: {path.parent}` and "
                f"`chmod u+w {path}`), or pass another --state-dir")
    return "free space or remount the disk read-write, or pass another --state-dir"


def prepare_state_dir(path: Path) -> None:
    """Create ``path`` if needed and make sure we can write in it, or raise StateDirError
    naming the path and the fix (instead of a traceback from deep inside the start-up)."""
    where = "Fix: point device.state_dir (or --state-dir) at a directory this user can write"
    if path.exists() and not path.is_dir():
        raise StateDirError(f"state directory {path} is a file, not a directory. Fix: move "
                            "the file away, or pass another --state-dir")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise StateDirError(f"state directory {path} cannot be created: {parent} is a file. "
                            f"{where}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Root passes every permission check, so try it: a write tells the truth.
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError:
        raise StateDirError(
            f"state directory {path} is not writable by {_user()}. Fix: `sudo chown -R "
            f"kiosk: {path}` (the user the kiosk runs as), or pass another --state-dir"
        ) from None
    except OSError as exc:
        raise StateDirError(f"state directory {path}: {exc.strerror}. {where}") from None
    # Files left by an earlier run as another user (e.g. started once with sudo): SQLite
    # would open them and fail at the first commit, long after start-up said "ready".
    for name in ("kiosk.db", "kiosk.db-wal", "kiosk.db-shm", "kiosk.lock"):
        f = path / name
        try:
            os.close(os.open(f, os.O_RDWR))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StateDirError(
                f"{'lock' if name == 'kiosk.lock' else 'database'} file {f} cannot be "
                f"opened for writing ({exc.strerror}). Fix: {_fix_for(exc, f)}") from None


def core_commands(core: Core) -> dict[str, Handler]:
    def state(_req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "state": state_view(core), "faults": dict(core.faults),
                "unsent": core.store.count_unsent(), "head_seq": core.store.head()[0]}

    def ping(_req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    return {"state": state, "ping": ping}


def citizen_confirm(core: Core) -> Handler:
    """`kiosk sim confirm`: the citizen's 确认并打印 on the mirror of a headless
    simulated counter (the document is issued and prints, as from the screen)."""
    def confirm(_req: dict[str, Any]) -> dict[str, Any]:
        outcome = core.submit(ConfirmDocument())
        reply: dict[str, Any] = {"ok": outcome.ok, "state": outcome.state.mode.value}
        if not outcome.ok:
            reply["error"] = outcome.reason
        return reply
    return confirm


def state_view(core: Core) -> dict[str, Any]:
    """The state as JSON, without mirror values (personal data stays in the process)."""
    s = core.state
    view = s.persistable()
    view["mirror"] = [{"key": m.key, "label": m.label, "status": m.status} for m in s.mirror]
    return view
