"""The typed configuration: schema with defaults, loading and validation.

``config.toml`` is read with :mod:`tomllib` into frozen dataclasses. Every value has a
default, so the counter runs on embedded defaults with no file at all (simulation).
Anything wrong in the file stops start-up with one :class:`ConfigError` whose message
names the file, the line, the key and the fix. Nothing else is started on a bad config.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device.errors import ConfigError
from device.fields import looks_like_resident_id

# An id that can stand as one MQTT topic level and one file name: no '/', '+', '#'.
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

T = typing.TypeVar("T", int, float)


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric key, written next to its definition below.

    ``why`` says what the bounds mean (it ends up in the Fix of the error message);
    ``problem`` replaces the generic problem text (``{value}`` is filled in).
    """

    lo: float
    hi: float
    why: str = ""
    problem: str = ""

    def check(self, value: float) -> str | None:
        if self.lo <= value <= self.hi:
            return None
        if self.problem:
            return self.problem.format(value=value)
        side = "below the minimum" if value < self.lo else "above the maximum"
        return f"{value!r} is {side} ({_num(self.lo)} to {_num(self.hi)})"

    def fix(self) -> str:
        text = f"use a value from {_num(self.lo)} to {_num(self.hi)}"
        return f"{text} ({self.why})" if self.why else text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def ranged(default: T, lo: float, hi: float, why: str = "", problem: str = "") -> T:
    """A numeric key with a default and its range (checked by :func:`loads`)."""
    return field(default=default, metadata={"range": Range(lo, hi, why, problem)})


def range_of(f: dataclasses.Field[Any]) -> Range | None:
    r = f.metadata.get("range")
    return r if isinstance(r, Range) else None


_PIN = Range(0, 27, "a BCM number of the 40-pin header, see docs/wiring.md",
             "BCM pin {value} does not exist on the 40-pin header")
_BAUD = (1200, 4_000_000, "bits per second of the serial port")
_PORT = (1, 65535, "a TCP port")
_RETRY = (0.1, 3600.0, "seconds between tries")


def bcm_pin(default: int | None = None) -> int:
    if default is None:
        return field(metadata={"range": _PIN})
    return field(default=default, metadata={"range": _PIN})


@dataclass(frozen=True)
class DeviceSection:
    site: str = "demo-site"
    id: str = "demo-w01"
    # Empty: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/counter-kiosk.
    state_dir: str = ""
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class WindowSection:
    number: int = ranged(1, 1, 999, "the number on the window")
    name: str = "户籍业务窗口"
    services: tuple[str, ...] = ()
    hours: str = "周一至周五 9:00-12:00, 14:00-17:30；周六 9:00-12:00"
    # The station's name, printed at the top of tickets and slips ("" leaves it out).
    station: str = ""
    notice: str = ""
    consult_phone: str = "12345"
    complaint_phone: str = "12389"
    # The comment book's QR code opens this page on the citizen's phone (with a reference).
    comment_url: str = "https://hq.example.gov.cn/comment"
    # The checklist slip's QR code: the online service guide (?service=CODE&v=VERSION).
    guide_url: str = "https://hq.example.gov.cn/guide"


@dataclass(frozen=True)
class OfficerEntry:
    badge: str
    name: str
    phone: str = ""
    role: str = "窗口民警"
    photo: str = ""


@dataclass(frozen=True)
class StaffSection:
    on_duty: str = "000001"
    backup: str = "000002"
    backup_window: int = ranged(0, 0, 999, "0: no backup window")
    # Used when the officer presses the away button (the workstation can send its own).
    away_reason: str = "临时离开"
    away_minutes: int = ranged(15, 1, 720, "minutes, at most 12 hours")


@dataclass(frozen=True)
class RatingPins:
    very_satisfied: int = bcm_pin()
    satisfied: int = bcm_pin()
    basic: int = bcm_pin()
    unsatisfied: int = bcm_pin()
    very_unsatisfied: int = bcm_pin()

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GpioSection:
    # mock: gpiozero's MockFactory (simulation); lgpio for Pi 5 and Pi 4 on Bookworm.
    pin_factory: Literal["mock", "lgpio", "rpigpio", "native"] = "mock"
    rating_pins: RatingPins = RatingPins(5, 6, 13, 19, 26)
    rating_led_pins: RatingPins = RatingPins(12, 16, 20, 21, 25)
    away_pin: int = bcm_pin(23)
    next_pin: int = bcm_pin(24)
    away_led_pin: int = bcm_pin(18)
    buzzer_pin: int = bcm_pin(22)
    bounce_ms: int = ranged(50, 1, 1000, "milliseconds")
    stuck_s: float = ranged(10.0, 1.0, 3600.0, "seconds a button may be held")


@dataclass(frozen=True)
class PrinterSection:
    transport: Literal["sim", "usb", "serial", "network"] = "sim"
    # serial: a pyserial URL or device path; network: host[:port].
    url: str = ""
    usb_vendor: int = ranged(0, 0, 0xFFFF, "a 16-bit USB id from `lsusb`")
    usb_product: int = ranged(0, 0, 0xFFFF, "a 16-bit USB id from `lsusb`")
    paper_mm: Literal[58, 80] = 80
    chinese: Literal["native", "raster"] = "native"
    retry_s: float = ranged(5.0, *_RETRY)
    # Printer-side details (docs/printer.md): the ROM font's character set (older ROMs
    # carry GB2312 only), QR drawn by the printer (GS ( k) or sent as an image, the CJK
    # font for raster text ("" = search fonts-wqy-microhei, zenhei, noto-cjk) and fonts
    # for rare characters it lacks (empty = fonts-hanazono if installed).
    rom_charset: Literal["gbk", "gb2312"] = "gbk"
    qr: Literal["native", "raster"] = "native"
    font: str = ""
    fallback_fonts: tuple[str, ...] = ()
    baudrate: int = ranged(19200, *_BAUD)
    # How long to wait for a DLE EOT reply; no reply means status unknown, never "ok".
    status_timeout_s: float = ranged(0.5, 0.05, 10.0, "seconds")


@dataclass(frozen=True)
class SignSection:
    # "sim://" simulates the DWIN sign; otherwise a pyserial URL (/dev/ttyUSB0, socket://...).
    url: str = "sim://"
    baudrate: int = ranged(115200, *_BAUD)
    crc: bool = False
    # Resends after the first try: 0 tries once.
    retries: int = ranged(3, 0, 10, "resends after the first try")
    reply_timeout_s: float = ranged(0.5, 0.05, 10.0, "seconds")
    # Gone or not answering: try again this often. Everything is resent this often too
    # (a sign that was power-cycled is blank and says nothing).
    retry_s: float = ranged(2.0, *_RETRY)
    refresh_s: float = ranged(60.0, 1.0, 86400.0, "seconds")


@dataclass(frozen=True)
class LinkSection:
    # "sim://": lines come from `kiosk sim link`; "tcp://HOST:PORT" listens; else serial URL.
    url: str = "sim://"
    baudrate: int = ranged(115200, *_BAUD)
    max_line_bytes: int = ranged(4096, 256, 1_048_576, "bytes")
    max_lines_per_s: int = ranged(50, 1, 10_000, "lines a second")
    retry_s: float = ranged(2.0, *_RETRY)  # serial port gone (USB unplugged): reopen this often


@dataclass(frozen=True)
class ScannerSection:
    url: str = "sim://"
    baudrate: int = ranged(9600, *_BAUD)
    # A longer scan is discarded (no QR payload of ours is).
    max_line_bytes: int = ranged(512, 64, 65536, "bytes")
    retry_s: float = ranged(2.0, *_RETRY)  # serial port gone (USB unplugged): reopen this often


@dataclass(frozen=True)
class TimeoutsSection:
    rating_s: float = ranged(30.0, 1.0, 600.0, "seconds")
    thanks_s: float = ranged(5.0, 0.5, 600.0, "seconds")
    idle_home_s: float = ranged(60.0, 5.0, 3600.0, "seconds")


@dataclass(frozen=True)
class SoundSection:
    enabled: bool = True
    # Empty: the clips shipped in ui/sounds. A site replaces clips by file name here.
    dir: str = ""
    player: Literal["sim", "aplay"] = "sim"


@dataclass(frozen=True)
class MirrorSection:
    mask_id_numbers: bool = True


@dataclass(frozen=True)
class QueueSection:
    prefix: str = "A"
    green_channel: tuple[str, ...] = ()
    minutes_per_case: float = ranged(8.0, 0.5, 480.0, "minutes")
    # A few demo appointment codes when HQ has sent none (forced on by --simulate).
    demo_appointments: bool = False
    # An appointment checks in with priority from this many minutes before its slot
    # starts until this many after it ends (docs/ui.md, 预约签到).
    appointment_grace_min: int = ranged(15, 0, 120, "minutes before and after the slot")


@dataclass(frozen=True)
class StoreSection:
    # Sent events older than this are pruned from the local journal.
    # At least 32: the home screen's satisfaction rate for this month reads this month's
    # ratings from the journal (sent or not).
    retention_days: int = ranged(
        40, 32, 3650, "32 or more: this month's satisfaction rate on the home screen is "
        "counted from the ratings kept on the Pi",
        "{value} days is shorter than a month")
    # Above this size telemetry (health, faults) is shed oldest first; ratings never.
    max_db_mb: int = ranged(512, 16, 1_000_000, "megabytes")


@dataclass(frozen=True)
class MqttSection:
    host: str = ""  # empty: no broker, events stay in the outbox
    port: int = ranged(8883, *_PORT)
    tls: bool = True
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password_file: str = ""
    topic_prefix: str = "kiosk/v1"
    keepalive_s: int = ranged(60, 5, 65535, "seconds; MQTT allows at most 65535")
    inflight: int = ranged(20, 1, 65535, "messages")
    # Events per MQTT message (a JSON array; docs/mqtt.md). Only rows already waiting are
    # grouped, so a live event is never held back; a backlog drains ~4x faster.
    batch: int = ranged(10, 1, 1000, "events per message")
    health_interval_s: float = ranged(60.0, 1.0, 86400.0, "seconds")
    # An event older than this when it is sent is flagged replayed (user property).
    replay_after_s: float = ranged(60.0, 1.0, 86400.0, "seconds")
    # Sent events HQ has not confirmed (Topics.confirmed) this long after their PUBACK are
    # published again (replayed), from HQ's confirmed seq on (docs/mqtt.md, "End to end").
    confirm_timeout_s: float = ranged(
        6.0, 1.0, 600.0, "seconds: a few (default 6); HQ confirms what it stored within "
        "about a second, and after a broker restart no event may stay missing for longer")
    client_id: str = ""  # empty: "<site>.<device>", the broker user


@dataclass(frozen=True)
class UiSection:
    fullscreen: bool = False
    large_text: bool = False
    max_fps: int = ranged(30, 1, 240, "frames a second")


@dataclass(frozen=True)
class LoggingSection:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class Config:
    device: DeviceSection = DeviceSection()
    window: WindowSection = WindowSection()
    staff: StaffSection = StaffSection()
    roster: tuple[OfficerEntry, ...] = (
        OfficerEntry("000001", "李明", "0755-8000 0001", "窗口民警", ""),
        OfficerEntry("000002", "王芳", "0755-8000 0002", "B岗民警", ""),
    )
    gpio: GpioSection = GpioSection()
    printer: PrinterSection = PrinterSection()
    sign: SignSection = SignSection()
    link: LinkSection = LinkSection()
    scanner: ScannerSection = ScannerSection()
    timeouts: TimeoutsSection = TimeoutsSection()
    sound: SoundSection = SoundSection()
    mirror: MirrorSection = MirrorSection()
    queue: QueueSection = QueueSection()
    store: StoreSection = StoreSection()
    mqtt: MqttSection = MqttSection()
    ui: UiSection = UiSection()
    logging: LoggingSection = LoggingSection()
    # Where the config came from (not a key in the file).
    source: str = field(default="<embedded defaults>", compare=False)

    @property
    def state_dir(self) -> Path:
        return resolve_state_dir(self.device.state_dir)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "kiosk.db"

    @property
    def control_socket(self) -> Path:
        return self.state_dir / "control.sock"

    def officer(self, badge: str) -> OfficerEntry | None:
        return next((o for o in self.roster if o.badge == badge), None)

    def simulated(self) -> Config:
        """The same config with every peripheral replaced by its simulator."""
        return dataclasses.replace(
            self,
            gpio=dataclasses.replace(self.gpio, pin_factory="mock"),
            printer=dataclasses.replace(self.printer, transport="sim"),
            sign=dataclasses.replace(self.sign, url="sim://"),
            link=dataclasses.replace(self.link, url="sim://"),
            scanner=dataclasses.replace(self.scanner, url="sim://"),
            sound=dataclasses.replace(self.sound, player="sim"),
            queue=dataclasses.replace(self.queue, demo_appointments=True),
        )

    def with_state_dir(self, path: str | Path) -> Config:
        return dataclasses.replace(
            self, device=dataclasses.replace(self.device, state_dir=str(path))
        )


def resolve_state_dir(configured: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    if os.environ.get("STATE_DIRECTORY"):
        # systemd may pass several, colon-separated; ours is the first.
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "counter-kiosk"


# --------------------------------------------------------------------------- loading


def load(path: str | Path | None) -> Config:
    """Load and validate ``path``; ``None`` gives the embedded defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: no such file. Fix: pass --config with the path of an existing "
            "config.toml, or leave --config out to run on the embedded defaults."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{p}: is a directory, not a config file. Fix: pass --config with the path of "
            f"the file, e.g. --config {p / 'config.toml'}"
        ) from None
    except OSError as exc:  # PermissionError, EIO, a path under a file, ...
        raise ConfigError(
            f"{p}: cannot be read ({exc.strerror}). Fix: pass --config with a readable "
            "config.toml (check its permissions), or leave --config out"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc}). Fix: save the file as UTF-8.") from None
    return loads(text, source=str(p))


def loads(text: str, source: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts "(at line N, column M)" in the message already.
        raise ConfigError(
            f"{source}: not valid TOML: {exc}. Fix: correct the syntax at that line "
            "(strings need quotes, tables are written [name])."
        ) from None
    lines = _KeyLines(text)
    cfg = _build(Config, data, (), lines, source)
    cfg = dataclasses.replace(cfg, source=source)
    _check_semantics(cfg, lines, source)
    return cfg


class _KeyLines:
    """Maps dotted key paths to the line they are written on (tomllib keeps no positions)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]\s][^\]]*?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=")
    _INLINE = re.compile(r"([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        counts: dict[tuple[str, ...], int] = {}
        # split("\n"), not splitlines(): TOML ends lines only at LF (CRLF), while
        # splitlines() also breaks at U+0085 or U+2028 inside a string and miscounts.
        for no, raw in enumerate(text.split("\n"), start=1):
            m = self._HEADER.match(raw)
            if m:
                name = tuple(part.strip().strip('"') for part in m.group(2).split("."))
                if m.group(1) == "[[":
                    idx = counts.get(name, 0)
                    counts[name] = idx + 1
                    table = (*name, str(idx))
                else:
                    table = name
                self.lines.setdefault(table, no)
                continue
            k = self._KEY.match(raw)
            if k:
                key = tuple(part.strip() for part in k.group(1).split("."))
                path = table + key
                self.lines.setdefault(path, no)
                rest = raw[k.end():]
                if "{" in rest:  # inline table: its keys live on this line
                    for sub in self._INLINE.findall(rest):
                        self.lines.setdefault((*path, sub), no)

    def line(self, path: tuple[str, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _where(source: str, lines: _KeyLines, path: tuple[str, ...]) -> tuple[str, int | None]:
    line = lines.line(path)
    return (f"{source}:{line}" if line else source), line


def _dotted(path: tuple[str, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _fail(source: str, lines: _KeyLines, path: tuple[str, ...], problem: str,
          fix: str) -> ConfigError:
    where, line = _where(source, lines, path)
    key = _dotted(path)
    return ConfigError(f"{where}: {key}: {problem}. Fix: {fix}", key=key, line=line)


def _type_name(tp: Any) -> str:
    names = {str: "a string in quotes", int: "a whole number", float: "a number",
             bool: "true or false"}
    if tp in names:
        return names[tp]
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return str(tp)


def _build(cls: type, data: Any, path: tuple[str, ...], lines: _KeyLines, source: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(source, lines, path, f"expected a table, got {type(data).__name__}",
                    f"write it as [{_dotted(path)}] with keys below it")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                "valid keys here are " + ", ".join(sorted(fields)))
            raise _fail(source, lines, (*path, key), "unknown key",
                        f"remove it or correct the spelling; {hint}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                # The path names the missing key; its line is the table's header.
                raise _fail(source, lines, (*path, name), "missing required key",
                            f"add {name} = ... ({_type_name(hints[name])}) to this table")
            continue
        value = _convert(hints[name], data[name], (*path, name), lines, source)
        rng = range_of(f)
        problem = rng.check(value) if rng is not None else None
        if rng is not None and problem is not None:
            raise _fail(source, lines, (*path, name), problem, rng.fix())
        kwargs[name] = value
    return cls(**kwargs)


def _convert(tp: Any, value: Any, path: tuple[str, ...], lines: _KeyLines, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path, lines, source)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value, path, lines, source)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise _fail(source, lines, path, f"{value!r} is not allowed",
                        "use " + " or ".join(repr(c) for c in choices))
        return value
    if origin is tuple:
        (item_tp, _) = typing.get_args(tp)
        if not isinstance(value, list):
            raise _fail(source, lines, path, f"expected {_type_name(tp)}, got {value!r}",
                        "write a list in square brackets, e.g. [\"a\", \"b\"]")
        return tuple(_convert(item_tp, v, (*path, str(i)), lines, source)
                     for i, v in enumerate(value))
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        fix = f"write {path[-1]} = <{_type_name(tp)}>"
        if isinstance(value, str) and tp in (int, float, bool):
            fix = f"write the value without quotes, e.g. {path[-1]} = {value.strip() or 0}"
        elif tp is str and not isinstance(value, str):
            fix = f'put the value in quotes, e.g. {path[-1]} = "{value}"'
        raise _fail(source, lines, path,
                    f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}", fix)
    return float(value) if tp is float else value


def _check_semantics(cfg: Config, lines: _KeyLines, source: str) -> None:
    for key in ("site", "id"):
        value = getattr(cfg.device, key)
        if not _ID_RE.match(value):
            raise _fail(source, lines, ("device", key), f"{value!r} is not a valid id",
                        "use 1-64 lower-case letters, digits, '-' or '_' (it becomes an MQTT "
                        "topic level and a file name)")
    try:
        ZoneInfo(cfg.device.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        # Checked here: the counter needs it for case numbers and return times, and must
        # not fail on it after the database is open.
        raise _fail(source, lines, ("device", "timezone"),
                    f"{cfg.device.timezone!r} is not a known time zone",
                    'use an IANA name such as "Asia/Shanghai"') from None
    pins: dict[int, str] = {}
    g = cfg.gpio
    named: list[tuple[tuple[str, ...], int]] = [
        *((("gpio", "rating_pins", k), v) for k, v in g.rating_pins.as_dict().items()),
        *((("gpio", "rating_led_pins", k), v) for k, v in g.rating_led_pins.as_dict().items()),
        (("gpio", "away_pin"), g.away_pin), (("gpio", "next_pin"), g.next_pin),
        (("gpio", "away_led_pin"), g.away_led_pin), (("gpio", "buzzer_pin"), g.buzzer_pin),
    ]
    for path, pin in named:
        if pin in pins:
            raise _fail(source, lines, path, f"BCM pin {pin} is already used by {pins[pin]}",
                        "give every button, LED and buzzer its own pin")
        pins[pin] = _dotted(path)
    badges = [o.badge for o in cfg.roster]
    # A badge is recorded in every event and sent to HQ: never a resident ID number.
    for path, badge in [*((("roster", str(i), "badge"), b) for i, b in enumerate(badges)),
                        (("staff", "on_duty"), cfg.staff.on_duty),
                        (("staff", "backup"), cfg.staff.backup)]:
        if looks_like_resident_id(badge):
            raise _fail(source, lines, path, "looks like a resident ID number, which is "
                        "personal data and never recorded", "use the officer's badge number")
    for i, badge in enumerate(badges):
        if badges.index(badge) != i:
            raise _fail(source, lines, ("roster", str(i), "badge"),
                        f"badge {badge!r} appears twice", "give each officer one [[roster]] entry")
    if cfg.roster and cfg.officer(cfg.staff.on_duty) is None:
        raise _fail(source, lines, ("staff", "on_duty"),
                    f"no [[roster]] entry has badge {cfg.staff.on_duty!r}",
                    "add that officer to [[roster]] or correct the badge number")
    if cfg.printer.transport in ("serial", "network") and not cfg.printer.url:
        raise _fail(source, lines, ("printer", "url"),
                    f"transport {cfg.printer.transport!r} needs a url",
                    'set url = "/dev/ttyUSB0" (serial) or "192.168.1.50:9100" (network)')
    if cfg.printer.transport == "usb" and not (cfg.printer.usb_vendor and cfg.printer.usb_product):
        raise _fail(source, lines, ("printer", "transport"),
                    "transport 'usb' needs usb_vendor and usb_product",
                    "set them from `lsusb` (e.g. usb_vendor = 0x0416, usb_product = 0x5011)")
    if cfg.mqtt.host and cfg.mqtt.tls and not cfg.mqtt.ca_file:
        raise _fail(source, lines, ("mqtt", "ca_file"), "TLS is on but no CA file is set",
                    "set ca_file to the broker's CA certificate, or tls = false on a test bench")
    # Numeric ranges are checked in _build, next to each key's definition (ranged()).
    _check_urls(cfg, lines, source)


_TCP_URL = re.compile(r"(?:tcp|socket)://(\[[^\]]+\]|[^:/\[\]]+):(\d+)/?(?:\?.*)?")
_PORT_AT_END = re.compile(r":(\d+)/?$")


def _check_urls(cfg: Config, lines: _KeyLines, source: str) -> None:
    """Ports inside URLs are numbers too: refused here, not when the driver starts."""
    for section in ("link", "sign", "scanner"):
        url = getattr(cfg, section).url
        if not url.startswith(("tcp://", "socket://")):
            continue
        m = _TCP_URL.fullmatch(url)
        # Port 0 (tcp:// only) asks the kernel for any free port (tests, benchmarks).
        lo = 0 if url.startswith("tcp://") and section == "link" else 1
        if not m or not lo <= int(m.group(2)) <= 65535:
            scheme = url.split("://")[0]
            raise _fail(source, lines, (section, "url"),
                        f"{url!r} is not {scheme}://HOST:PORT with a port from {lo} to 65535",
                        f'write e.g. url = "{scheme}://192.168.50.2:7301"')
    if cfg.printer.transport == "network":
        m = _PORT_AT_END.search(cfg.printer.url)
        if m and not 1 <= int(m.group(1)) <= 65535:
            raise _fail(source, lines, ("printer", "url"),
                        f"{cfg.printer.url!r} has port {m.group(1)}; a port is from 1 to "
                        "65535", 'write e.g. url = "192.168.1.50:9100"')
