"""Check this counter on site: config, devices, broker, clock, disk and database.

    kiosk doctor [--config FILE] [--simulate] [--json] [--skip NAME ...] [--timeout S]

One line per check, PASS / WARN / FAIL, and under every WARN and FAIL the fix. A check
that cannot be made here (no timedatectl, no kiosk running) is a WARN that says why; a
WARN is not a failure. Exit 0 when nothing fails (READY, or READY WITH WARNINGS); 1 when
a check fails (NOT READY); 2 when the config itself is invalid (the `kiosk` command
reports that before the doctor starts, with the file, line and fix).

While the kiosk runs, its devices are not opened a second time (that would steal bytes
from the serial ports and lines from the GPIO chip): the doctor asks the running counter
for its faults instead. With the kiosk stopped it probes each device itself through
drivers/probes.py (imported when the check runs: a broken hardware library is a FAIL
with its fix, not a doctor that cannot start), and the broker
through sync/probe.py with the counter's own TLS settings and credentials.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from device.config import Config
from device.store_journal import JournalReader
from kiosk.doctor_devices import (
    DEVICES,
    check_broker,
    check_services,
    check_station,
    checks_from_faults,
    lock_holder,
    probe_devices,
    running_counter,
)
from kiosk.doctor_env import FAIL, PASS, WARN, Check, Env

__all__ = ["FAIL", "PASS", "WARN", "Check", "Env", "check_broker", "main", "run_checks"]

EXIT_OK, EXIT_FAIL = 0, 1

# A Pi has no battery clock: before NTP it boots at the last saved time (fake-hwclock) or
# in 1970. Events stamped then would be nonsense at HQ.
EARLIEST_YEAR = 2025
LATEST_YEAR = 2100
FILES_IN_RAM = ("overlay", "tmpfs", "ramfs")

CHECKS = ("config", "clock", "disk", "database", "counter", "gpio", "printer", "sign",
          "link", "scanner", "panel", "broker", "station", "services")


# --------------------------------------------------------------------------- checks


def check_config(cfg: Config, simulate: bool) -> Check:
    problems: list[str] = []
    for key in ("ca_file", "cert_file", "key_file", "password_file"):
        value = getattr(cfg.mqtt, key)
        if value and not Path(value).is_file():
            problems.append(f"mqtt.{key} = {value!r} does not exist")
    if cfg.mqtt.password_file and not cfg.mqtt.username:
        problems.append("mqtt.password_file is set but mqtt.username is empty")
    if cfg.sound.dir and not Path(cfg.sound.dir).is_dir():
        problems.append(f"sound.dir = {cfg.sound.dir!r} is not a directory")
    if problems:
        return Check("config", FAIL, f"{cfg.source}: " + "; ".join(problems),
                     "install the missing files (cloud-init writes them at flash time) or "
                     "correct the paths in config.toml")
    identity = f"site {cfg.device.site}, device {cfg.device.id}, window {cfg.window.number}"
    if simulate:
        return Check("config", PASS, f"{cfg.source}: valid; {identity} (simulated devices)")
    warnings = []
    if cfg.source == "<embedded defaults>":
        warnings.append("no config file given")
    if cfg.device.id == "demo-w01" or cfg.device.site == "demo-site":
        warnings.append("still the demo identity")
    sim = [name for name in ("gpio", "printer", "sign", "link", "scanner", "sound")
           if getattr(cfg, name).simulated]
    if sim:
        warnings.append("simulated: " + ", ".join(sim))
    if warnings:
        return Check("config", WARN, f"{cfg.source}: valid; {identity}; " + "; ".join(warnings),
                     "pass --config /etc/counter-kiosk/config.toml; set [device] site/id and "
                     "each device's port (docs/technician-guide.md, 'Configure'); counters "
                     "without a sign or scanner can leave them simulated")
    return Check("config", PASS, f"{cfg.source}: valid; {identity}")


def check_clock(cfg: Config, env: Env, newest_event_ts: float | None) -> Check:
    now = env.clock()
    stamp = datetime.fromtimestamp(now, UTC)
    shown = stamp.strftime("%Y-%m-%d %H:%M UTC")
    if not EARLIEST_YEAR <= stamp.year < LATEST_YEAR:
        return Check("clock", FAIL, f"the clock says {shown}",
                     "connect the network so NTP sets the time (timedatectl "
                     "timesync-status), or set it by hand: sudo date -s '2026-01-01 09:00'")
    if newest_event_ts is not None and now < newest_event_ts - 300:
        behind = datetime.fromtimestamp(newest_event_ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return Check("clock", FAIL, f"the clock says {shown}, before the newest event "
                     f"({behind}): it went backwards",
                     "fix NTP (timedatectl timesync-status) before opening the counter; "
                     "events would be stamped in the past")
    synced = env.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if synced == "yes":
        return Check("clock", PASS, f"{shown}, NTP synchronised")
    if synced == "no":
        return Check("clock", WARN, f"{shown}, NTP not synchronised",
                     "the Pi needs an NTP server it can reach: check the network, or set "
                     "NTP= in /etc/systemd/timesyncd.conf to the station's time server")
    why = ("timedatectl gave no answer" if env.which("timedatectl")
           else "timedatectl is not installed here, so it cannot be checked")
    return Check("clock", WARN, f"{shown}, NTP state unknown ({why})",
                 "check the time against a phone; on the Pi install systemd-timesyncd")


def check_disk(cfg: Config, env: Env, min_free_mb: int) -> Check:
    path = cfg.state_dir
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = env.disk_usage(probe)
    free_mb = usage.free // (1024 * 1024)
    fstype = env.fs_type(probe)
    if free_mb < min_free_mb:
        return Check("disk", FAIL, f"{free_mb} MB free for {path} (need {min_free_mb} MB)",
                     "free space: sudo journalctl --vacuum-size=20M, remove old releases "
                     "(ls /opt/counter-kiosk/releases), or a bigger card; events are never "
                     "deleted to make room, telemetry is shed first")
    if fstype in FILES_IN_RAM:
        return Check("disk", WARN, f"{path} is on {fstype}: the database would be lost at "
                     "reboot", "mount the data partition at /var/lib/counter-kiosk "
                     "(docs/deployment.md, 'Read-only root')")
    if free_mb < 2 * min_free_mb:
        return Check("disk", WARN, f"only {free_mb} MB free for {path}",
                     "plan a clean-up before it fills: sudo journalctl --vacuum-size=20M")
    return Check("disk", PASS, f"{free_mb} MB free for {path}" + (f" ({fstype})" if fstype
                                                                  else ""))


@dataclass
class DbFacts:
    check: Check
    newest_ts: float | None = None


def check_database(cfg: Config, env: Env, max_unsent_age_s: float = 86400) -> DbFacts:
    path = cfg.db_path
    if not path.exists():
        return DbFacts(Check("database", WARN, f"no database at {path} yet",
                             "start the kiosk once (sudo systemctl start kiosk); a new Pi "
                             "replacing an old one gets the old state directory first"))
    try:
        # Read-only: the doctor never writes to the counter's database.
        with contextlib.closing(JournalReader(path)) as journal:
            problems = journal.check_problems()
            if problems:
                raise sqlite3.DatabaseError("; ".join(problems[:3]))
            unsent, oldest = journal.outbox_depth()
            newest, last = journal.newest_event()
    except sqlite3.DatabaseError as exc:
        return DbFacts(Check("database", FAIL, f"{path} fails its integrity check: {exc}",
                             "restart the kiosk: it moves a corrupt file aside "
                             "(kiosk.db.corrupt-*), salvages the unsent events and starts a "
                             "fresh one; send the corrupt file to HQ"))
    newest_ts = _epoch(newest)
    owner = _owner(last) if last else None
    if owner is not None and owner != (cfg.device.site, cfg.device.id):
        return DbFacts(Check("database", FAIL, f"{path} holds the events of "
                             f"{owner[0]}/{owner[1]}, but this config is "
                             f"{cfg.device.site}/{cfg.device.id}",
                             "a replacement Pi keeps the old Pi's identity: copy its "
                             "config.toml too (docs/technician-guide.md, 'Replacing a Pi'), "
                             "or move this database away if it belongs elsewhere"), newest_ts)
    detail = f"{path}: integrity ok, {unsent} unsent"
    oldest_ts = _epoch(oldest)
    if unsent and oldest_ts is not None and env.clock() - oldest_ts > max_unsent_age_s:
        hours = (env.clock() - oldest_ts) / 3600
        return DbFacts(Check("database", WARN, f"{detail}, the oldest {hours:.0f} h old",
                             "HQ has not received them: see the broker check and "
                             "journalctl -u kiosk-sync -b"), newest_ts)
    return DbFacts(Check("database", PASS, detail), newest_ts)


def _owner(body: str) -> tuple[str, str] | None:
    try:
        ev = json.loads(body)
        return str(ev["site"]), str(ev["device"])
    except (ValueError, KeyError, TypeError):
        return None


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_checks(cfg: Config, *, simulate: bool = False, env: Env | None = None,
               skip: Sequence[str] = (), timeout: float = 5.0,
               min_free_mb: int = 200) -> list[Check]:
    env = env or Env()
    if simulate:
        cfg = cfg.simulated()
    results: list[Check] = []
    wanted = [c for c in CHECKS if c not in skip]
    if "config" in wanted:
        results.append(check_config(cfg, simulate))
    db = check_database(cfg, env)
    if "clock" in wanted:
        results.append(check_clock(cfg, env, db.newest_ts))
    if "disk" in wanted:
        results.append(check_disk(cfg, env, min_free_mb))
    if "database" in wanted:
        results.append(db.check)
    devices = [c for c in DEVICES if c in wanted]
    state = running_counter(cfg) if ("counter" in wanted or devices) else None
    hung = lock_holder(cfg) if state is None else None
    if "counter" in wanted:
        if hung is not None:
            results.append(Check("counter", FAIL, f"a kiosk (pid {hung}) holds "
                                 f"{cfg.state_dir} but does not answer on its control socket",
                                 "it is hung or still starting: sudo systemctl restart kiosk; "
                                 "journalctl -u kiosk -b shows what it was doing"))
        elif state is not None:
            s = state.get("state", {})
            results.append(Check("counter", PASS, f"kiosk is running: mode {s.get('mode')}, "
                                 f"{state.get('unsent', '?')} unsent, "
                                 f"{len(state.get('faults', {}))} faults"))
        else:
            results.append(Check("counter", WARN, f"no kiosk answers on {cfg.control_socket}; "
                                 "devices were probed directly",
                                 "start it: sudo systemctl start kiosk (journalctl -u kiosk -b "
                                 "if it does not stay up)"))
    if devices:
        if hung is not None:
            # Its ports and GPIO lines are still open: probing them would fight it.
            found = [Check(name, WARN, f"{name}: not probed while kiosk pid {hung} holds "
                           "the devices", "restart the kiosk, then run the doctor again")
                     for name in devices]
        elif state is not None:
            found = checks_from_faults(state.get("faults", {}))
        else:
            found = probe_devices(cfg, env, timeout)
        results.extend(c for c in found if c.name in devices)
    if "broker" in wanted:
        results.append(check_broker(cfg, env, simulate, timeout))
    if "station" in wanted:
        results.append(check_station(cfg, env, timeout))
    if "services" in wanted and env.systemd and not simulate:
        results.append(check_services(env))
    return results


# --------------------------------------------------------------------------- CLI


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--simulate", action="store_true",
                        help="check against the simulated devices (like kiosk run --simulate)")
    parser.add_argument("--json", action="store_true", help="one JSON object per check")
    parser.add_argument("--skip", action="append", default=[], choices=CHECKS,
                        metavar="CHECK", help=f"leave a check out ({', '.join(CHECKS)})")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds to wait for the broker and each device (default 5)")
    parser.add_argument("--min-free-mb", type=int, default=200,
                        help="free disk below this fails (default 200)")


def format_check(c: Check) -> str:
    line = f"{c.status:<5} {c.name:<9} {c.detail}"
    if c.fix and not c.passed:
        line += f"\n{'':<16}fix: {c.fix}"
    return line


def main(args: argparse.Namespace, config: Config, env: Env | None = None) -> int:
    results = run_checks(config, simulate=args.simulate, env=env, skip=args.skip,
                         timeout=args.timeout, min_free_mb=args.min_free_mb)
    ok = not any(c.status == FAIL for c in results)  # a WARN is not a failure
    if args.json:
        for c in results:
            print(json.dumps(asdict(c), ensure_ascii=False))
    else:
        print(f"kiosk doctor: device {config.device.id} at {config.device.site}, "
              f"config {config.source}")
        for c in results:
            print(format_check(c))
        counts = {s: sum(c.status == s for c in results) for s in (PASS, WARN, FAIL)}
        verdict = ("NOT READY: fix the lines marked FAIL" if not ok
                   else "READY WITH WARNINGS: read the WARN lines" if counts[WARN]
                   else "READY: all checks pass")
        print(f"-- {len(results)} checks: {counts[PASS]} pass, {counts[WARN]} warn, "
              f"{counts[FAIL]} fail. {verdict}")
    return EXIT_OK if ok else EXIT_FAIL
