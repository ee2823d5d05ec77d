"""Reading config.toml into the schema of :mod:`device.config`, and validating it.

:func:`loads` parses with :mod:`tomllib`, builds the frozen sections key by key
(:func:`_build`, :func:`_convert`: types, Literal choices, each key's range) and then
checks what spans keys (:func:`_check_semantics`, :func:`_check_urls`). tomllib keeps
no positions, so :class:`_KeyLines` maps each key back to its line. Anything wrong stops
start-up with one :class:`ConfigError` whose message names the file, the line, the key
and the fix; nothing else is started on a bad config.

Callers use ``device.config.load``/``loads``; this module imports the schema, never the
other way round at import time.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device.config import Config, range_of
from device.errors import ConfigError, ParseError
from device.fields import looks_like_resident_id
from device.handover import HANDOVER_PREFIX
from device.pins import parse as parse_pin_hash

# An id that can stand as one MQTT topic level and one file name: no '/', '+', '#'.
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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
    for i, officer in enumerate(cfg.roster):
        if officer.pin_hash:
            try:
                parse_pin_hash(officer.pin_hash, where="the value")
            except ParseError as exc:
                raise _fail(source, lines, ("roster", str(i), "pin_hash"), str(exc),
                            "leave it empty if this officer does not use the panel") from None
    # Numeric ranges are checked in _build, next to each key's definition (ranged()).
    _check_urls(cfg, lines, source)
    _check_panel(cfg, lines, source)
    _check_station(cfg, lines, source)


def _check_panel(cfg: Config, lines: _KeyLines, source: str) -> None:
    """The panel listens on one LAN address of this Pi: never every interface."""
    panel = cfg.panel
    for i, net in enumerate(panel.allow_from):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise _fail(source, lines, ("panel", "allow_from", str(i)),
                        f"{net!r} is not an address or network",
                        'write e.g. "192.168.50.30" or "192.168.50.0/24"') from None
    if not panel.enabled and not panel.listen:
        return
    if not panel.listen:
        raise _fail(source, lines, ("panel", "enabled"), "the panel is enabled but "
                    "panel.listen is empty", 'add listen = "192.168.50.21:8080", this Pi\'s '
                    "address on the counter LAN")
    m = re.fullmatch(r"(\[[^\]]+\]|[^:\[\]]+):(\d{1,5})", panel.listen)
    example = 'write e.g. listen = "192.168.50.21:8080", this Pi\'s address on the counter LAN'
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise _fail(source, lines, ("panel", "listen"),
                    f"{panel.listen!r} is not HOST:PORT with a port from 1 to 65535", example)
    try:
        host = ipaddress.ip_address(m.group(1).strip("[]"))
    except ValueError:
        raise _fail(source, lines, ("panel", "listen"),
                    f"{m.group(1)!r} is not an IP address (the panel binds one address, "
                    "not a name)", example) from None
    if host.is_unspecified:
        raise _fail(source, lines, ("panel", "listen"),
                    f"{host} listens on every interface; the panel must be reachable from "
                    "the counter LAN only", example)


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


# A fallback block's prefix: upper-case letters, then at most two digits ("E", "W1").
_FALLBACK_RE = re.compile(r"^[A-Z]{1,3}[0-9]{0,2}$")


def _check_station(cfg: Config, lines: _KeyLines, source: str) -> None:
    """[station]: a broker to reach, and a number block of this device's own for when
    the station does not answer (docs/station.md, "When the station is away")."""
    st = cfg.station
    if not st.enabled:
        return
    if not st.host:
        raise _fail(source, lines, ("station", "host"), "the station is enabled but "
                    "station.host is empty", 'set host = "192.168.50.2", the station '
                    "broker's address, or enabled = false for a standalone counter")
    if st.tls and not st.ca_file:
        raise _fail(source, lines, ("station", "ca_file"), "TLS is on but no CA file is set",
                    "set ca_file to the station broker's CA certificate, or tls = false")
    if st.role == "hall":
        return  # the hall display issues and calls nothing
    if not st.fallback_prefix:
        raise _fail(source, lines, ("station", "fallback_prefix"),
                    f"a {st.role} needs a number block of its own for when the station "
                    "does not answer", 'set fallback_prefix = "E" (the entrance) or "W1" '
                    "(window 1): unique in the station")
    if not _FALLBACK_RE.match(st.fallback_prefix):
        raise _fail(source, lines, ("station", "fallback_prefix"),
                    f"{st.fallback_prefix!r} is not 1-3 upper-case letters and at most two "
                    "digits", 'write e.g. fallback_prefix = "E" or "W1"')
    if st.fallback_prefix == HANDOVER_PREFIX:
        raise _fail(source, lines, ("station", "fallback_prefix"),
                    f"{HANDOVER_PREFIX!r} numbers the after-hours intakes (户口代办)",
                    'choose another block, e.g. "W1"')
