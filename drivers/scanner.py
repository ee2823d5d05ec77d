"""The QR scanner: appointment check-in from a serial (virtual COM) scanner in line mode.

The scanner sends each code as one line ended by CR or LF (both, or CR LF, work). An
appointment QR code of this project reads (docs/scanner.md)::

    CK1|<site>|<appointment code>|<yyyymmdd>|<check>

``site`` is the station id (``device.site``), the code 4-32 letters or digits, the date
the appointment's day, and ``check`` one character ``0-9A-Z``: CRC-16/MODBUS of the UTF-8
text before the last ``|``, modulo 36. Anything else (a URL, a payment code, another
station's or another day's appointment, a misprinted code) is refused with a clear
Chinese message on the screen (:meth:`Core.announce`, kind "error") and changes nothing.

A valid code goes to ``check_in(code)``: the registry passes the queue desk's
(``desk.check_in(code, source="scanner")``); without one the citizen is sent to the window.

Backends (``scanner.url``, chosen by drivers/registry.py): a pyserial URL or device path,
or ``sim://``: the same driver on an in-memory line (drivers/simport.py) whose far end is
`kiosk sim scan TEXT`, so a simulated scan takes the serial framing, the line limit and
the parser a real one does.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device.config import Config
from device.core import Core
from device.errors import ParseError
from device.fields import check_text, looks_like_resident_id
from drivers.base import BaseDriver, ControlHandler
from drivers.framing import LineSplitter, TooLong
from drivers.serialport import LineService, Opener, SerialPort
from drivers.sign.codec import crc16_modbus
from drivers.simport import SimPort, one_reply

log = logging.getLogger("scanner")

PREFIX = "CK1"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_SCAN = 512
_SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE_RE = re.compile(r"^[0-9A-Za-z]{4,32}$")
_AIM_RE = re.compile(rb"^\][A-Za-z][0-9A-Za-z]")  # "]Q1": a symbology id some scanners add

# What the citizen reads on the screen.
MSG_UNKNOWN = "无法识别的二维码，请出示本站的预约二维码，或在屏幕上输入预约码"
MSG_URL = "这是一个网址二维码，不是预约码。请出示本站的预约二维码"
MSG_VERSION = "预约二维码版本不受支持，请重新获取预约二维码"
MSG_CHECK = "预约二维码校验失败，请重新扫描，或在屏幕上输入预约码"
MSG_SITE = "这不是本办理点的预约码，请到预约的办理点签到"
MSG_NO_QUEUE = "预约签到暂不可用，请到窗口办理"
MSG_FAILED = "签到失败，请到窗口办理"


class ScanError(ParseError):
    """A scan that is not an appointment of this station; ``screen`` says so in Chinese."""

    def __init__(self, message: str, screen: str) -> None:
        super().__init__(message)
        self.screen = screen


@dataclass(frozen=True)
class AppointmentScan:
    site: str
    code: str
    date: str  # yyyymmdd


def check_char(body: str) -> str:
    """The check character for ``CK1|site|code|yyyymmdd``."""
    return ALPHABET[crc16_modbus(body.encode("utf-8")) % 36]


def make_payload(site: str, code: str, date: str) -> str:
    """The QR text for an appointment (what HQ's booking system puts in the code)."""
    body = f"{PREFIX}|{site}|{code}|{date}"
    return f"{body}|{check_char(body)}"


def parse_scan(line: bytes) -> AppointmentScan:
    """Parse one scanned line. Raises :class:`ScanError` (a ParseError) for anything that
    is not a well-formed appointment code of this format."""
    if not isinstance(line, bytes | bytearray):
        raise ScanError("a scan must be bytes", MSG_UNKNOWN)
    if len(line) > MAX_SCAN:
        raise ScanError(f"scan longer than {MAX_SCAN} bytes", MSG_UNKNOWN)
    raw = bytes(line).strip(b" \t\r\n\x00")
    if _AIM_RE.match(raw):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
        # One check for all outside text (device/fields.py): a control character or an
        # invisible one is no part of any code we read, and must not reach the log.
        check_text(text, "scan", limit=MAX_SCAN)
    except UnicodeDecodeError:
        raise ScanError("scan is not UTF-8 text", MSG_UNKNOWN) from None
    except ParseError as exc:
        raise ScanError(str(exc), MSG_UNKNOWN) from None
    lower = text.lower()
    if lower.startswith(("http://", "https://", "www.", "weixin://", "alipays://")):
        raise ScanError("scan is a URL, not an appointment code", MSG_URL)
    parts = text.split("|")
    if parts[0] != PREFIX:
        if re.fullmatch(r"CK\d+", parts[0]):
            raise ScanError(f"appointment code version {parts[0]!r} is not supported "
                            f"(this counter reads {PREFIX})", MSG_VERSION)
        raise ScanError(f"scan does not start with {PREFIX}|", MSG_UNKNOWN)
    if len(parts) != 5:
        raise ScanError(f"{PREFIX} code needs 5 fields separated by '|', got {len(parts)}",
                        MSG_UNKNOWN)
    _, site, code, date, check = parts
    if not _SITE_RE.match(site):
        raise ScanError(f"site {site!r} is not a station id", MSG_UNKNOWN)
    if not _CODE_RE.match(code):
        raise ScanError(f"appointment code {code!r} must be 4-32 letters or digits",
                        MSG_UNKNOWN)
    if looks_like_resident_id(code):
        # The code is recorded (appointment.checked_in) and sent to HQ: never an ID number.
        raise ScanError("appointment code looks like a resident ID number, which is "
                        "personal data and never recorded", MSG_UNKNOWN)
    if not re.fullmatch(r"\d{8}", date):
        raise ScanError(f"date {date!r} must be yyyymmdd", MSG_UNKNOWN)
    try:
        datetime.strptime(date, "%Y%m%d")
    except ValueError:
        raise ScanError(f"date {date!r} is not a calendar date", MSG_UNKNOWN) from None
    body = text.rsplit("|", 1)[0]
    if check != check_char(body):
        raise ScanError(f"check character {check!r} is wrong (expected one of {ALPHABET})",
                        MSG_CHECK)
    return AppointmentScan(site, code, date)


def check_scan(scan: AppointmentScan, site: str, today: str) -> None:
    """Refuse another station's or another day's appointment (``today`` is yyyymmdd)."""
    if scan.site != site:
        raise ScanError(f"appointment is for site {scan.site!r}, this is {site!r}", MSG_SITE)
    if scan.date != today:
        d = scan.date
        when = f"{d[:4]}年{int(d[4:6])}月{int(d[6:])}日"
        raise ScanError(f"appointment is for {scan.date}, today is {today}",
                        f"该预约的日期是{when}，不是今天，请按预约日期前来")


CheckIn = Callable[[str], object]


class ScannerDriver(BaseDriver):
    """Reads scans from the port ``opener`` opens and checks appointments in."""

    name = "scanner"

    def __init__(self, config: Config, opener: Opener, check_in: CheckIn | None = None,
                 clock: Callable[[], float] = time.time, *,
                 sim: SimPort | None = None) -> None:
        """``opener`` opens the port (drivers/registry.py chose it); ``sim`` is the
        in-memory line it opens when simulated, which `kiosk sim scan` writes to."""
        self.config = config
        self.cfg = config.scanner
        self.port = SerialPort("scanner", opener)
        self.sim = sim
        self._sim_lock = threading.Lock()  # one `kiosk sim scan` at a time
        self._results: list[dict[str, Any]] = []
        self.check_in = check_in
        self._clock = clock
        self._tz = ZoneInfo(config.device.timezone)
        self.service = LineService(self.port, "scanner", self.cfg.retry_s, self._new_session,
                                   read_size=1024)
        self.connected = self.service.connected

    def start(self, core: Core) -> None:
        self.core = core
        self.service.start(core)

    def close(self) -> None:
        self.service.close()

    def _new_session(self) -> Callable[[bytes], bytes]:
        splitter = LineSplitter(self.cfg.max_line_bytes, b"\r\n")

        def feed(data: bytes) -> bytes:
            for line in splitter.feed(data):
                if isinstance(line, TooLong):
                    self._scanned(self._refuse(ScanError(
                        f"scan longer than {line.limit} bytes", MSG_UNKNOWN)))
                elif line.strip():
                    self._scanned(self.handle_scan(line))
            return b""  # a scanner takes no replies

        return feed

    def _scanned(self, result: dict[str, Any]) -> None:
        """What became of one line off the wire: kept for `kiosk sim scan`'s reply (the
        reader thread calls this while the simulator waits for its line to be done)."""
        if self.sim is not None:
            self._results.append(result)

    # ------------------------------------------------------------------ one scan

    def today(self) -> str:
        return datetime.fromtimestamp(self._clock(), self._tz).strftime("%Y%m%d")

    def _refuse(self, exc: ScanError) -> dict[str, Any]:
        log.info("scanner: refused a scan: %s", exc)
        self.core.announce(exc.screen, "error")
        return {"ok": False, "error": str(exc), "screen": exc.screen}

    def handle_scan(self, line: bytes) -> dict[str, Any]:
        """Parse, check and check in one scanned line; the reply says what happened."""
        try:
            scan = parse_scan(line)
            check_scan(scan, self.config.device.site, self.today())
        except ScanError as exc:
            return self._refuse(exc)
        check_in = self.check_in
        if check_in is None:
            log.warning("scanner: no queue desk to check %s in", scan.code)
            self.core.announce(MSG_NO_QUEUE, "error")
            return {"ok": False, "error": "no queue desk to check in with",
                    "screen": MSG_NO_QUEUE}
        try:
            result = check_in(scan.code)
        except Exception:
            log.exception("scanner: check-in of %s failed", scan.code)
            self.core.announce(MSG_FAILED, "error")
            return {"ok": False, "error": "check-in failed", "screen": MSG_FAILED}
        ok = bool(getattr(result, "ok", True))
        message = str(getattr(result, "message", "") or "")
        ticket = getattr(getattr(result, "ticket", None), "number", None)
        if ok and message:
            # The queue announces refusals itself for non-screen sources; say the good
            # news too, since the citizen is looking at the screen, not at a reply.
            self.core.announce(message, "info")
        return {"ok": ok, "code": scan.code, "message": message, "ticket": ticket}



    # ------------------------------------------------------------------ simulation

    def control_commands(self) -> dict[str, ControlHandler]:
        if self.sim is None:
            return {}
        return {"scan": self._sim_scan}

    def _sim_scan(self, req: dict[str, Any]) -> dict[str, Any]:
        code = req.get("code")
        if not isinstance(code, str):
            return {"ok": False, "error": "scan needs a 'code' (the QR code's text)"}
        assert self.sim is not None
        with self._sim_lock:
            self._results = []
            # The text goes on the wire as one CR-ended line. surrogatepass: a lone
            # surrogate (valid JSON, not Unicode) becomes bytes that are not UTF-8, so the
            # scan is refused like the same bytes off the wire.
            done = self.sim.exchange(code.encode("utf-8", "surrogatepass") + b"\r")
            results, self._results = self._results, []
        if done is None:
            return {"ok": False, "error": "the simulated scanner did not take the scan "
                    "within 5 s (it is not running: see the scanner fault)"}
        # A scanner sends no empty lines, and the driver ignores them.
        return {"ok": True, "reply": one_reply(results, {
            "ok": False, "error": "empty scan: the scanner ignores blank lines"})}


def main(argv: list[str] | None = None) -> int:
    """``python -m drivers.scanner SITE CODE [YYYYMMDD]`` prints an appointment QR text."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m drivers.scanner SITE CODE [YYYYMMDD]", file=sys.stderr)
        return 2
    date = args[2] if len(args) == 3 else datetime.now(ZoneInfo("Asia/Shanghai")).strftime(
        "%Y%m%d")
    print(make_payload(args[0], args[1], date))
    return 0


if __name__ == "__main__":
    sys.exit(main())
