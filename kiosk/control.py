"""The control socket: how `kiosk sim` (and tests, demos, benchmarks) drive a running
counter. A Unix socket in the state directory; one JSON object per line each way.

Requests are ``{"cmd": NAME, ...}``; the reply always has ``ok``. Commands come from the
core (``state``, ``events``) and from the drivers (``press``, ``link``, ``scan``, ...):
a simulated driver registers its commands, a real one registers none, so `kiosk sim`
can never press a real button.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.errors import KioskError, ParseError
from device.json_input import load_object

log = logging.getLogger("control")

Handler = Callable[[dict[str, Any]], dict[str, Any]]
MAX_REQUEST = 64 * 1024


class ControlError(KioskError):
    """The control socket could not be reached or answered badly."""


def dispatch(handlers: dict[str, Handler], raw: bytes) -> dict[str, Any]:
    """Turn one request line into one reply; bad requests get an error, never a crash."""
    try:
        # Strict: valid UTF-8 and Unicode, no NaN, bounded; a handler's reply can then
        # always be encoded (an echoed lone surrogate used to kill the connection).
        req = load_object(raw, max_bytes=MAX_REQUEST, where="request")
    except ParseError as exc:
        return {"ok": False, "error": str(exc)}
    cmd = req.get("cmd")
    handler = handlers.get(cmd) if isinstance(cmd, str) else None
    if handler is None:
        return {"ok": False, "error": f"unknown command {cmd!r}; commands are "
                + ", ".join(sorted(handlers))}
    try:
        return handler(req)
    except KioskError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a bug in a handler must not take the counter down
        log.exception("control command %s failed", cmd)
        return {"ok": False, "error": f"internal error: {exc}"}


class ControlServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = Path(path)
        self.handlers = handlers
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a killed process
        handlers = self.handlers

        class _Conn(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    line = self.rfile.readline(MAX_REQUEST + 1)
                    if not line:
                        return
                    if len(line) > MAX_REQUEST:
                        # Skip the rest of that line, so it gets one reply and the next
                        # request is answered in step.
                        while line and not line.endswith(b"\n"):
                            line = self.rfile.readline(MAX_REQUEST + 1)
                        reply = {"ok": False, "error": "request too long"}
                    else:
                        reply = dispatch(handlers, line.strip())
                    self.wfile.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
                    self.wfile.flush()

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), _Conn)
        self._server.daemon_threads = True
        os.chmod(self.path, 0o660)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ControlClient:
    """One connection; ``request`` can be called many times (benchmarks, bursts)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self.sock.close()
            raise ControlError(
                f"no counter is running with control socket {path} ({exc.strerror}). "
                "Fix: start one with `kiosk run --simulate`, and pass the same --config "
                "or --state-dir to `kiosk sim`."
            ) from None
        except OSError as exc:  # a path under a file, no permission, a name too long
            self.sock.close()
            reason = exc.strerror or str(exc)
            raise ControlError(
                f"cannot reach the control socket {path} ({reason}). Fix: pass the "
                "--config or --state-dir the counter runs with (a directory you may read)"
            ) from None
        self.file = self.sock.makefile("rwb")

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        # ensure_ascii: any text goes out as valid JSON; the counter judges its content.
        try:
            self.file.write(json.dumps(req).encode("ascii") + b"\n")
            self.file.flush()
            line = self.file.readline()
        except TimeoutError:
            raise ControlError(f"the counter did not answer within {self.sock.gettimeout()} "
                               "s; it may be stuck. Fix: check `systemctl status kiosk` or "
                               "its log") from None
        except OSError as exc:  # ConnectionResetError, BrokenPipeError: it went away
            raise ControlError(self._gone(exc.strerror or str(exc))) from None
        if not line.endswith(b"\n"):
            raise ControlError(self._gone("the connection closed" if not line else
                                          "the reply was cut off"))
        try:
            reply = json.loads(line)
        except ValueError:
            raise ControlError("the counter answered something that is not a JSON "
                               "object") from None
        if not isinstance(reply, dict):
            raise ControlError("the counter answered something that is not a JSON object")
        return reply

    def _gone(self, why: str) -> str:
        return (f"the counter closed the control connection {self.path} during a request "
                f"({why}): it stopped or restarted, and that request may or may not have "
                "been applied. Fix: check with `kiosk sim state` once it runs again")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
