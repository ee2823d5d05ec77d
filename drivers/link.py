"""The workstation link: JSON lines from the officer's PC (serial USB CDC or TCP).

Every line gets exactly one reply line: ``{"ok": true, ...}`` or ``{"ok": false,
"error": "..."}`` naming the problem. Invalid lines change nothing. The protocol is in
docs/workstation-link.md.

Backends (``link.url``, chosen by drivers/registry.py): ``tcp://HOST:PORT`` (listens; one
workstation at a time, a new connection replaces the old one), any pyserial URL or device
path (USB CDC; reopened after an unplug), and ``sim://``: :class:`SimLink`, the serial
link on an in-memory line (drivers/simport.py) whose far end is `kiosk sim link`. All of
them run the same :class:`LinkSession`: lines longer than ``link.max_line_bytes`` are
discarded up to the next newline (never buffered whole) and answered with an error; lines
beyond ``link.max_lines_per_s`` are answered with a rate error and not applied.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device.catalogue import CatalogueSource
from device.config import LinkSection
from device.core import Core, Outcome
from device.errors import DriverError, ParseError
from device.fields import text_field
from device.intents import (
    AwayClear,
    AwaySet,
    CaseEnd,
    CaseStart,
    Intent,
    MirrorField,
    Press,
    Request,
    SignIn,
    SignOut,
)
from device.json_input import correlation_id, load_object
from drivers.base import BaseDriver, ControlHandler
from drivers.framing import LineSplitter, RateLimiter, TooLong
from drivers.link_documents import DOCUMENT_OPS, in_context
from drivers.link_fields import case_no_field
from drivers.link_queue import QUEUE_OPS
from drivers.listen import listen
from drivers.serialport import LineService, Opener, SerialPort
from drivers.simport import SimPort, one_reply

log = logging.getLogger("link")

MAX_LINE = 4096
_BADGE_RE = re.compile(r"[0-9A-Za-z]{1,20}")
# The same format the counter holds its own services to (device/counter.py).
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_HHMM_RE = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


def _sign_in(m: dict[str, Any]) -> Intent:
    badge = text_field(m, "badge", limit=20)
    if not _BADGE_RE.fullmatch(badge):
        raise ParseError(f"badge {badge!r} must be 1-20 letters or digits (the 警号)")
    return SignIn(badge)


def _case_start(m: dict[str, Any]) -> Intent:
    case_no = case_no_field(m, required=True)
    service = text_field(m, "service", limit=64)
    if not _SERVICE_RE.fullmatch(service):
        raise ParseError(f"service {service!r} must be a catalogue code like "
                         "'id_card.renew'")
    return CaseStart(case_no, service)


def _case_end(m: dict[str, Any]) -> Intent:
    return CaseEnd(case_no_field(m, required=False) or None)


def _field(m: dict[str, Any]) -> Intent:
    sensitive = m.get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise ParseError("field 'sensitive' must be true or false")
    key = text_field(m, "key", limit=40)
    if not key:
        raise ParseError("field 'key' must not be empty")
    # Only the value may be personal data (an ID number): it stays in memory.
    return MirrorField(key, text_field(m, "label", limit=40),
                       text_field(m, "value", limit=400, personal=True), sensitive)


def _away(m: dict[str, Any]) -> Intent:
    return_at = text_field(m, "return_at", limit=40, nonempty=True)
    if not _HHMM_RE.fullmatch(return_at.strip()):
        try:
            datetime.fromisoformat(return_at)
        except ValueError:
            raise ParseError(f"return_at {return_at!r} must be HH:MM or an ISO 8601 "
                             "time") from None
    return AwaySet(text_field(m, "reason", limit=60, nonempty=True), return_at,
                   text_field(m, "phone", required=False, limit=30),
                   text_field(m, "backup", required=False, limit=60))


_OPS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "sign_in": _sign_in,
    "sign_out": lambda m: SignOut(),
    "case_start": _case_start,
    "field": _field,
    "case_end": _case_end,
    "call_next": lambda m: Press("next", source="link"),
    "away": _away,
    "back": lambda m: AwayClear(),
    **DOCUMENT_OPS,
    **QUEUE_OPS,  # recall, no_show, call, transfer (drivers/link_queue.py)
}


def parse_line(raw: bytes | str, max_bytes: int = MAX_LINE) -> tuple[Request, Any]:
    """Parse one line into an intent and the caller's correlation ``id`` (or None).

    Raises :class:`ParseError` with a message fit to send back to the workstation.
    """
    return parse_message(load_object(raw, max_bytes=max_bytes, where="line"))


def parse_message(msg: dict[str, Any]) -> tuple[Request, Any]:
    """One request as a JSON object (a line, or the officer panel's form): its intent and
    correlation ``id``; :class:`ParseError` names the field."""
    op = msg.get("op")
    if not isinstance(op, str) or op not in _OPS:
        raise ParseError(f"unknown op {op!r}; ops are " + ", ".join(sorted(_OPS)))
    corr = correlation_id(msg)
    return _OPS[op](msg), corr


# A catalogue per core that has no ticket book (tests, tools); the kiosk's book holds the
# catalogue in force (HQ's copy if valid, else the shipped one).
_catalogues: weakref.WeakKeyDictionary[Core, CatalogueSource] = weakref.WeakKeyDictionary()


def catalogue_of(core: Core) -> CatalogueSource:
    """The catalogue in force at this counter (the link and the panel check against it)."""
    if core.tickets is not None:
        return core.tickets.catalogue
    source = _catalogues.get(core)
    if source is None:
        source = _catalogues[core] = CatalogueSource(core.store)
    return source


def check_in_context(core: Core, intent: Request) -> Intent:
    """What a line can only be checked against the counter for: its catalogue and clock.

    Returns what to submit (a document request becomes its document); raises
    :class:`ParseError` naming the field, and nothing is applied then.
    """
    if isinstance(intent, CaseStart):
        catalogue = catalogue_of(core).current()
        if catalogue.get(intent.service) is None:
            codes = ", ".join(s.code for s in catalogue.services)
            raise ParseError(f"service {intent.service!r} is not in the catalogue "
                             f"(version {catalogue.version}); use one of {codes}")
    elif isinstance(intent, AwaySet) and not _HHMM_RE.fullmatch(intent.return_at.strip()):
        # HH:MM is today or tomorrow, never past; an ISO time is a moment that may be.
        tz = ZoneInfo(core.config.device.timezone)
        at = datetime.fromisoformat(intent.return_at)
        if at.tzinfo is None:  # a workstation's local time means the counter's zone
            at = at.replace(tzinfo=tz)
        now = core.clock()
        if at.timestamp() <= now:
            current = datetime.fromtimestamp(now, tz).isoformat(timespec="minutes")
            raise ParseError(f"return_at {intent.return_at!r} is in the past (it is "
                             f"{current} at the counter); send a later time or HH:MM")
    return in_context(core, catalogue_of(core).current(), intent)


def handle_line(core: Core, raw: bytes | str, max_bytes: int = MAX_LINE) -> dict[str, Any]:
    """Parse, submit and build the reply for one line. Never raises for bad input."""
    try:
        msg = load_object(raw, max_bytes=max_bytes, where="line")
    except ParseError as exc:
        log.warning("link: rejected line: %s", exc)
        return {"ok": False, "error": str(exc)}
    return handle_message(core, msg)[0]


def handle_message(core: Core, msg: dict[str, Any]) -> tuple[dict[str, Any], Outcome | None]:
    """Check, submit and answer one request: the reply, and the core's outcome (None when
    the request was refused before it reached the core). Never raises for bad input."""
    try:
        request, corr = parse_message(msg)
        intent = check_in_context(core, request)
    except ParseError as exc:
        log.warning("link: rejected line: %s", exc)
        rejected: dict[str, Any] = {"ok": False, "error": str(exc)}
        with contextlib.suppress(ParseError):
            if (corr := correlation_id(msg)) is not None:
                rejected["id"] = corr  # so the workstation knows which request failed
        return rejected, None
    outcome = core.submit(intent)
    reply: dict[str, Any] = {"ok": outcome.ok, "state": outcome.state.mode.value}
    if corr is not None:
        reply["id"] = corr
    if not outcome.ok:
        reply["error"] = outcome.reason
    if outcome.events:
        reply["seq"] = [e.seq for e in outcome.events]
    return reply, outcome


# --------------------------------------------------------------------------- line framing


def _reply_bytes(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n"


class LinkSession:
    """One workstation connection's protocol state: bytes in, reply bytes out."""

    def __init__(self, core: Core, cfg: LinkSection,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.core = core
        self.cfg = cfg
        self.splitter = LineSplitter(cfg.max_line_bytes)
        self.limiter = RateLimiter(cfg.max_lines_per_s, clock)

    def process(self, data: bytes) -> bytes:
        out = bytearray()
        for line in self.splitter.feed(data):
            if isinstance(line, TooLong):
                log.warning("link: discarded a line longer than %d bytes", line.limit)
                out += _reply_bytes({"ok": False, "error": (
                    f"line longer than {line.limit} bytes: discarded up to the next "
                    "newline, nothing applied (link.max_line_bytes)")})
                continue
            line = line.rstrip(b"\r")
            if not line.strip():
                continue  # an empty line (keep-alive) gets no reply
            if not self.limiter.allow():
                out += _reply_bytes({"ok": False, "error": (
                    f"too many lines: more than {self.cfg.max_lines_per_s} per second "
                    "(link.max_lines_per_s); this line was not applied, send it again")})
                continue
            try:
                reply = handle_line(self.core, line, self.cfg.max_line_bytes)
            except Exception:  # the store failed: not recorded, say so
                log.exception("link: line could not be applied")
                reply = {"ok": False, "error": "internal error: the line was not recorded; "
                         "send it again"}
            out += _reply_bytes(reply)
        return bytes(out)


# --------------------------------------------------------------------------- serial


class SerialLink(BaseDriver):
    """USB CDC (or any pyserial URL): read lines, write replies, reopen after an unplug."""

    name = "link"

    def __init__(self, cfg: LinkSection, opener: Opener) -> None:
        self.cfg = cfg
        self.port = SerialPort("link", opener)
        self.service = LineService(self.port, "link", cfg.retry_s, self._new_session)
        self.connected = self.service.connected

    def _new_session(self) -> Callable[[bytes], bytes]:
        return LinkSession(self.core, self.cfg).process  # a fresh line buffer

    def start(self, core: Core) -> None:
        self.core = core
        self.service.start(core)

    def close(self) -> None:
        self.service.close()


class SimLink(SerialLink):
    """The serial link on an in-memory line whose far end is `kiosk sim link '<json>'`:
    the same reader thread, framing, limits and parser as USB CDC, only the wire is fake."""

    def __init__(self, cfg: LinkSection, line: SimPort) -> None:
        super().__init__(cfg, line.opener)
        self.line = line

    def control_commands(self) -> dict[str, ControlHandler]:
        return {"link": self._sim_line}

    def _sim_line(self, req: dict[str, Any]) -> dict[str, Any]:
        line = req.get("line")
        if not isinstance(line, str):
            return {"ok": False, "error": "link needs a 'line' (one JSON object as text)"}
        # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, refused by the
        # parser like the same bytes off the wire.
        out = self.line.exchange(line.encode("utf-8", "surrogatepass") + b"\n")
        if out is None:
            return {"ok": False, "error": "the simulated link did not take the line "
                    "within 5 s (it is not running: see the link fault)"}
        replies = [json.loads(x) for x in out.splitlines() if x.strip()]
        # A blank line is a workstation's keep-alive: the link answers nothing to it.
        return {"ok": True, "reply": one_reply(replies, {"ok": False, "error": (
            "line is not JSON: it is blank, which the link takes as a keep-alive and "
            "does not answer")})}


# --------------------------------------------------------------------------- TCP


def parse_tcp_url(url: str) -> tuple[str, int]:
    """"tcp://0.0.0.0:7301" -> ("0.0.0.0", 7301); raises DriverError if malformed."""
    m = re.fullmatch(r"tcp://(\[[^\]]+\]|[^:/\[\]]+):(\d{1,5})/?", url)
    if not m or int(m.group(2)) > 65535:
        raise DriverError(f"link.url {url!r} must look like tcp://HOST:PORT "
                          "(e.g. tcp://0.0.0.0:7301)")
    return m.group(1).strip("[]"), int(m.group(2))


class TcpLink(BaseDriver):
    """Listens on tcp://HOST:PORT. One workstation at a time: a new connection replaces
    the old one (a PC that rebooted must not be locked out by its own dead socket)."""

    name = "link"

    def __init__(self, cfg: LinkSection) -> None:
        self.cfg = cfg
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connections = 0  # accepted so far (tests, health)

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the real port when the config said port 0)."""
        assert self._listener is not None
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self, core: Core) -> None:
        self.core = core
        # Checked here, not at build: a bad URL is a driver fault, the counter still runs.
        host, port = parse_tcp_url(self.cfg.url)
        lst = listen(host, port, backlog=2, name="link",
                     fix="choose a free port in link.url, or stop what holds it")
        lst.settimeout(0.2)  # so the accept loop sees close()
        self._listener = lst
        t = threading.Thread(target=self._accept, name="link-accept", daemon=True)
        t.start()
        self._threads.append(t)
        log.info("link: listening on %s:%d", *self.address)

    def close(self) -> None:
        self._stop.set()
        self._drop(None)
        for t in self._threads:
            t.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def _drop(self, replacement: socket.socket | None) -> None:
        with self._lock:
            old, self._conn = self._conn, replacement
        if old is not None:
            with contextlib.suppress(OSError):
                old.shutdown(socket.SHUT_RDWR)  # wakes its reader, which closes it

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            conn.settimeout(1.0)
            self.connections += 1
            log.info("link: workstation %s connected", peer[0])
            self._drop(conn)
            t = threading.Thread(target=self._serve, args=(conn,), name="link-conn",
                                 daemon=True)
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _serve(self, conn: socket.socket) -> None:
        session = LinkSession(self.core, self.cfg)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    break
                replies = session.process(data)
                if replies:
                    conn.sendall(replies)
        except OSError as exc:
            log.info("link: connection ended: %s", exc)
        finally:
            with self._lock:
                if self._conn is conn:
                    self._conn = None
            conn.close()
            log.info("link: workstation disconnected")
