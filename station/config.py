"""The station's configuration (station.toml): typed, frozen, checked at start.

Read with the counter's loader (device/config_load.py: the same key-by-key types, ranges,
line numbers and "Fix:" wording), so a station.toml error reads like a config.toml one.
What spans keys is checked here: window numbers and backups, one prefix letter per
service group, unique device fallback prefixes (no number may be issued twice in a day,
whoever issues it while the station is away).

    site = "s1"
    db = "/var/lib/counter-kiosk/station/kiosk.db"
    away_alert_min = 15
    [crowd]
    waiting = 30
    longest_wait_min = 45
    [[windows]]
    number = 1
    services = ["id_card.renew"]
    backup = 2
    [[groups]]
    prefix = "A"
    services = ["id_card.renew"]
    [[fallback]]
    device = "entrance"
    prefix = "E"
    [mqtt]
    host = "127.0.0.1"
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device.config import MqttSection, ranged
from device.config_load import _build, _fail, _KeyLines
from device.errors import ConfigError

# The station is this device of its site at HQ (its events, its kiosk-sync).
STATION_DEVICE = "station"
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A ticket number is its prefix and a day count; capital letters (and digits after them,
# "W1") print on every printer and read aloud the same. The devices' rule for their
# station.fallback_prefix (device/config.py) is the same: 1-3 letters, at most 2 digits.
_PREFIX_RE = re.compile(r"^[A-Z]{1,3}[0-9]{0,2}$")


# The station's broker is on its own LAN: plain 1883 unless the file says TLS.
_LOCAL_BROKER = MqttSection(port=1883, tls=False)


@dataclass(frozen=True)
class WindowEntry:
    number: int = ranged(1, 1, 999, "the number on the window")
    services: tuple[str, ...] = ()
    backup: int = ranged(0, 0, 999, "0: no backup window")


@dataclass(frozen=True)
class GroupEntry:
    """A service group: its tickets are numbered ``{prefix}001``, ``{prefix}002``, ..."""

    prefix: str = "A"
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class FallbackEntry:
    """A device's own block, used while the station does not answer (docs/station.md)."""

    device: str = ""
    prefix: str = ""


@dataclass(frozen=True)
class CrowdSection:
    # Above either one the station records station.crowded for HQ (the chief's alert).
    waiting: int = ranged(30, 1, 100_000, "people waiting")
    longest_wait_min: int = ranged(45, 1, 1440, "minutes")


@dataclass(frozen=True)
class StationConfig:
    site: str = "demo-site"
    timezone: str = "Asia/Shanghai"
    db: str = "station.db"
    away_alert_min: int = ranged(15, 1, 720, "minutes a window may be away before HQ hears")
    # The service time assumed before any `done` measured one (per service and window).
    default_service_min: float = ranged(8.0, 0.5, 480.0, "minutes")
    # Weight of the newest measurement in the moving average of service times.
    average_weight: float = ranged(0.2, 0.01, 1.0, "0.01 (slow) to 1 (only the last)")
    # A called ticket goes back into the queue this many times after a no-show, each time
    # behind this many waiting tickets (the counter's queue.no_show_requeue rule).
    no_show_requeue: int = ranged(1, 0, 9, "times before it is dropped (0: at once)")
    no_show_requeue_after: int = ranged(3, 0, 99, "waiting tickets (0: back where it was)")
    crowd: CrowdSection = CrowdSection()
    windows: tuple[WindowEntry, ...] = ()
    groups: tuple[GroupEntry, ...] = ()
    fallback: tuple[FallbackEntry, ...] = ()
    mqtt: MqttSection = _LOCAL_BROKER
    source: str = field(default="<embedded defaults>", compare=False)

    @property
    def db_path(self) -> Path:
        return Path(self.db).expanduser()

    def window(self, number: int) -> WindowEntry | None:
        return next((w for w in self.windows if w.number == number), None)

    def prefix_of(self, service: str) -> str | None:
        return next((g.prefix for g in self.groups if service in g.services), None)

    @property
    def services(self) -> tuple[str, ...]:
        """Every service some window serves, in config order."""
        seen: dict[str, None] = {}
        for w in self.windows:
            seen.update(dict.fromkeys(w.services))
        return tuple(seen)


def load(path: str | Path) -> StationConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file. Fix: pass --config with the path of the "
                          "station's station.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot be read ({exc}). Fix: make it a readable UTF-8 "
                          "file") from None
    return loads(text, source=str(p))


def loads(text: str, source: str = "station.toml") -> StationConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}. Fix: correct the syntax at "
                          "that line (strings need quotes, tables are written [name]).") from None
    lines = _KeyLines(text)
    if "mqtt" in data and isinstance(data["mqtt"], dict):
        data["mqtt"] = {"port": 1883, "tls": False, **data["mqtt"]}
    cfg = _build(StationConfig, data, (), lines, source)
    cfg = dataclasses.replace(cfg, source=source)
    check(cfg, lines, source)
    return cfg


def check(cfg: StationConfig, lines: _KeyLines, source: str) -> None:
    """What spans keys; each problem one ConfigError naming the key and the fix."""
    if not _ID_RE.match(cfg.site):
        raise _fail(source, lines, ("site",), f"{cfg.site!r} is not a valid id",
                    "use 1-64 lower-case letters, digits, '-' or '_' (the site's id at HQ)")
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(source, lines, ("timezone",), f"{cfg.timezone!r} is not a known time "
                    "zone", 'use an IANA name such as "Asia/Shanghai"') from None
    if not cfg.windows:
        raise _fail(source, lines, ("windows",), "no window is configured",
                    "add a [[windows]] table per window (number, services, backup)")
    _check_windows(cfg, lines, source)
    _check_prefixes(cfg, lines, source)
    if cfg.mqtt.host and cfg.mqtt.tls and not cfg.mqtt.ca_file:
        raise _fail(source, lines, ("mqtt", "ca_file"), "TLS is on but no CA file is set",
                    "set ca_file to the broker's CA certificate, or tls = false")


def _check_windows(cfg: StationConfig, lines: _KeyLines, source: str) -> None:
    numbers = [w.number for w in cfg.windows]
    for i, w in enumerate(cfg.windows):
        here = ("windows", str(i))
        if numbers.index(w.number) != i:
            raise _fail(source, lines, (*here, "number"), f"window {w.number} appears twice",
                        "give each window one [[windows]] table")
        if not w.services:
            raise _fail(source, lines, (*here, "services"), f"window {w.number} serves "
                        "nothing", 'list its services, e.g. services = ["id_card.renew"]')
        if w.backup and w.backup not in numbers:
            raise _fail(source, lines, (*here, "backup"), f"window {w.backup} is not "
                        "configured", "name a window of this station, or 0 for none")
        if w.backup == w.number:
            raise _fail(source, lines, (*here, "backup"), "a window cannot be its own "
                        "backup", "name another window, or 0 for none")
        for j, service in enumerate(w.services):
            if cfg.prefix_of(service) is None:
                raise _fail(source, lines, (*here, "services", str(j)),
                            f"service {service!r} is in no [[groups]]",
                            "add it to the services of a group (its tickets' prefix)")


def _check_prefixes(cfg: StationConfig, lines: _KeyLines, source: str) -> None:
    named: list[tuple[tuple[str, ...], str]] = [
        *((("groups", str(i), "prefix"), g.prefix) for i, g in enumerate(cfg.groups)),
        *((("fallback", str(i), "prefix"), f.prefix) for i, f in enumerate(cfg.fallback))]
    seen: dict[str, str] = {}
    for path, prefix in named:
        if not _PREFIX_RE.match(prefix):
            raise _fail(source, lines, path, f"{prefix!r} is not a ticket prefix",
                        'use 1-3 capital letters and at most 2 digits, e.g. "A" or "W1"')
        for other, where in seen.items():
            if prefix.startswith(other) or other.startswith(prefix):
                # "W" and "W1" would both print W1001 one day: never the same number twice.
                what = "is already used by" if prefix == other else "overlaps the prefix of"
                raise _fail(source, lines, path, f"prefix {prefix!r} {what} {where}",
                            "give every group and every device's block its own prefix, none "
                            "the start of another")
        seen[prefix] = ".".join(path[:2]).replace(".", "[", 1) + "]"
    services: dict[str, int] = {}
    for i, g in enumerate(cfg.groups):
        for j, service in enumerate(g.services):
            if service in services:
                raise _fail(source, lines, ("groups", str(i), "services", str(j)),
                            f"service {service!r} is already in groups[{services[service]}]",
                            "put each service in one group")
            services[service] = i
    devices = [f.device for f in cfg.fallback]
    for i, f in enumerate(cfg.fallback):
        if not _ID_RE.match(f.device):
            raise _fail(source, lines, ("fallback", str(i), "device"),
                        f"{f.device!r} is not a device id", "write the device's id, e.g. "
                        '"w01" or "entrance"')
        if devices.index(f.device) != i:
            raise _fail(source, lines, ("fallback", str(i), "device"),
                        f"device {f.device!r} has two blocks", "give each device one "
                        "[[fallback]] table")
