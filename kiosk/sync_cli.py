"""The `kiosk-sync` (on the Pi) and `kiosk-hq` (at HQ) commands.

    kiosk-sync [--config FILE] [--state-dir DIR] [--drain]
    kiosk-hq collect --db hq.db [--host H] [--port P] [--client-id ID] [--tls --ca F ...]
    kiosk-hq status --db hq.db
    kiosk-hq report --db hq.db --from 2026-11-01 --to 2026-12-01 --out DIR
    kiosk-hq publish --host H --port P --site S KIND FILE.json     (site content, retained)
    kiosk-hq loadsim --host H --port P --counters N --seconds S
    kiosk-hq serve --db hq.db --host H --port P                    (the web console)
    kiosk-hq user add NAME --role R [--station SITE] --db hq.db --password-file F

Exit codes: 0 ok, 1 failed, 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from device.config import load
from device.errors import ConfigError, KioskError, ParseError, SyncError
from kiosk import hq_console, logsetup, sdnotify
from sync.topics import CONTENT_KINDS

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
# How long a loop may go without a round before the watchdog stops pinging: three of the
# longest waits it makes (kiosk-sync's reconnect back-off, kiosk-hq's repair round).
SYNC_BEAT_MAX_AGE_S = 30.0
HQ_BEAT_MAX_AGE_S = 60.0
log = logging.getLogger("sync")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# --------------------------------------------------------------------------- kiosk-sync


def main_sync(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiosk-sync",
                                description="publish the counter's outbox to the broker and "
                                            "apply HQ's site content and commands")
    p.add_argument("--config", default=os.environ.get("KIOSK_CONFIG"),
                   help="config.toml (default: $KIOSK_CONFIG, else embedded defaults)")
    p.add_argument("--state-dir", help="override device.state_dir (where kiosk.db is)")
    p.add_argument("--drain", action="store_true",
                   help="exit 0 once the outbox is empty (provisioning, tests)")
    args = p.parse_args(argv)
    try:
        cfg = load(args.config)
        if args.state_dir:
            cfg = cfg.with_state_dir(args.state_dir)
        if not cfg.mqtt.host:
            raise ConfigError(f"{cfg.source}: mqtt.host is empty. Fix: set [mqtt] host to the "
                              "broker's name; without one the events wait in the outbox.",
                              key="mqtt.host")
    except ConfigError as exc:
        print(f"kiosk-sync: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logsetup.setup(cfg.logging.level)
    from device.store import Store
    from sync.uplink import Syncer

    stop = _stop_on_signals()
    beat = sdnotify.Heartbeat(max_age_s=SYNC_BEAT_MAX_AGE_S)
    try:
        syncer = Syncer(cfg, heartbeat=beat)
    except KioskError as exc:
        print(f"kiosk-sync: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if args.drain:
        def watch() -> None:
            # Its own store: the syncer's is closed as run() returns, maybe before this
            # thread sees the stop.
            outbox = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id,
                           check_integrity=False)
            try:
                while not stop.wait(0.1):
                    if syncer.connected.is_set() and outbox.outbox_empty():
                        stop.set()
            finally:
                outbox.close()
        threading.Thread(target=watch, daemon=True).start()
    log.info("kiosk-sync starting: db=%s broker=%s:%s", cfg.db_path, cfg.mqtt.host,
             cfg.mqtt.port)
    # READY once the store is open: the service can do its job (the broker may be away
    # for days; the outbox simply waits). The watchdog pings while the loop beats.
    watchdog = sdnotify.start_service(
        beat.alive, status=f"publishing to {cfg.mqtt.host}:{cfg.mqtt.port}")
    try:
        syncer.run(stop)
    except KioskError as exc:
        print(f"kiosk-sync: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        watchdog.stop()
        syncer.close()
    log.info("kiosk-sync stopped")
    return EXIT_OK


# --------------------------------------------------------------------------- kiosk-hq


def _broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=os.environ.get("KIOSK_HQ_BROKER", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("KIOSK_HQ_PORT", "1883")))
    p.add_argument("--prefix", default="kiosk/v1", help="topic prefix (mqtt.topic_prefix)")
    env = os.environ.get
    p.add_argument("--tls", action="store_true", default=env("KIOSK_HQ_TLS", "") == "1",
                   help="connect with TLS (KIOSK_HQ_TLS=1)")
    p.add_argument("--ca", default=env("KIOSK_HQ_CA", ""), help="CA certificate (PEM)")
    p.add_argument("--cert", default=env("KIOSK_HQ_CERT", ""),
                   help="client certificate (PEM), for a broker that requires one")
    p.add_argument("--key", default=env("KIOSK_HQ_KEY", ""), help="client key (PEM)")
    p.add_argument("--username", default=env("KIOSK_HQ_USERNAME", ""))
    p.add_argument("--password-file", default=env("KIOSK_HQ_PASSWORD_FILE", ""))


def _broker_options(args: argparse.Namespace, client_id: str) -> Any:
    from hq.collector import BrokerOptions

    password = ""
    if args.password_file:
        password = Path(args.password_file).read_text(encoding="utf-8").strip()
    return BrokerOptions(host=args.host, port=args.port, client_id=client_id,
                         prefix=args.prefix, tls=args.tls, ca_file=args.ca,
                         cert_file=args.cert, key_file=args.key, username=args.username,
                         password=password)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None


def build_hq_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-hq", description="HQ collector and reports")
    sub = p.add_subparsers(dest="command", required=True)
    default_db = os.environ.get("KIOSK_HQ_DB", "hq.db")

    c = sub.add_parser("collect", help="store every event once (shared subscription)")
    _broker_args(c)
    c.add_argument("--db", default=default_db, help="SQLite path or postgresql:// URL")
    c.add_argument("--client-id", default=f"kiosk-hq-{os.uname().nodename}",
                   help="client id prefix; each start adds a random suffix")
    c.add_argument("--share", default="hq", help="shared-subscription group")

    s = sub.add_parser("status", help="per device: events, verified seq, gaps, chain problems")
    s.add_argument("--db", default=default_db)
    s.add_argument("--json", action="store_true")

    r = sub.add_parser("report", help="evaluation report (HTML with charts, and CSV)")
    r.add_argument("--db", default=default_db)
    r.add_argument("--from", dest="start", type=_day, required=True, help="first day")
    r.add_argument("--to", dest="end", type=_day, required=True, help="day after the last")
    r.add_argument("--out", type=Path, required=True, help="directory for the files")
    r.add_argument("--tz", default="Asia/Shanghai", help="time zone of days and periods")
    r.add_argument("--include-simulated", action="store_true",
                   help="count the load simulator's data too (left out by default)")

    pub = sub.add_parser("publish", help="validate and publish site content (retained)")
    _broker_args(pub)
    pub.add_argument("--site", required=True)
    pub.add_argument("kind", choices=CONTENT_KINDS)
    pub.add_argument("file", type=Path)

    hq_console.add_parsers(sub, default_db)

    ls = sub.add_parser("loadsim", help="play N counters against a broker")
    _broker_args(ls)
    ls.add_argument("--counters", type=int, default=100)
    ls.add_argument("--seconds", type=float, default=10.0)
    ls.add_argument("--rate", type=float, default=0.2, help="events per counter per second")
    return p


def main_hq(argv: Sequence[str] | None = None) -> int:
    args = build_hq_parser().parse_args(argv)
    try:
        if args.command == "collect":
            # Only the long-running service owns the process's logging; the one-shot
            # commands print their results and leave logging alone.
            logsetup.setup("INFO", sys.stderr)
            return _collect(args)
        if args.command == "status":
            return _status(args)
        if args.command == "report":
            from hq.report import write_report
            from hq.store import HqStore

            store = HqStore.open(args.db)
            files = write_report(store.db, args.start, args.end, args.out, tz=args.tz,
                                 simulated=args.include_simulated)
            for f in files:
                print(f)
            return EXIT_OK
        if args.command == "publish":
            return _publish(args)
        if args.command == "serve":
            logsetup.setup("INFO", sys.stderr)
            return hq_console.serve(args)
        if args.command == "user":
            return hq_console.user_add(args)
        if args.command == "orders":
            return hq_console.orders_tick(args)
        if args.command == "loadsim":
            from sync.loadsim import run_loadsim

            res = run_loadsim(args.host, args.port, args.counters, args.seconds,
                              rate=args.rate, prefix=args.prefix)
            res.pop("last_seq")
            print(json.dumps(res))
            return EXIT_OK
    except ParseError as exc:
        print(f"kiosk-hq: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (KioskError, OSError) as exc:
        print(f"kiosk-hq: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_FAIL


def _collect(args: argparse.Namespace) -> int:
    from hq.collector import Collector
    from hq.store import HqStore, redact_url

    store = HqStore.open(args.db)
    opts = _broker_options(args, args.client_id)
    opts.share = args.share
    beat = sdnotify.Heartbeat(max_age_s=HQ_BEAT_MAX_AGE_S)
    collector = Collector(store, opts, heartbeat=beat)
    stop = _stop_on_signals()
    collector.start()
    log.info("kiosk-hq collecting into %s from %s:%s", redact_url(args.db), args.host, args.port)
    watchdog = sdnotify.start_service(beat.alive,
                                      status=f"collecting from {args.host}:{args.port}")
    last = 0
    while not stop.wait(10.0):
        if collector.stats.new != last:
            last = collector.stats.new
            log.info("stored %d new events (%d duplicates, %d rejected, %d work orders)",
                     collector.stats.new, collector.stats.duplicates, collector.stats.rejected,
                     collector.stats.work_orders)
    watchdog.stop()
    collector.stop()
    st = collector.stats
    log.info("collector stopped: %d new events, %d duplicates, %d quarantined, %d resend "
             "requests, %d confirmations, %d connections", st.new, st.duplicates, st.rejected,
             st.resends, st.confirmations, st.connects)
    store.close()
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from hq.store import HqStore

    store = HqStore.open(args.db)
    rows = store.integrity()
    problems = store.problems()
    quarantined = store.quarantined()
    if args.json:
        print(json.dumps({"devices": rows, "problems": problems,
                          "quarantined": quarantined}, ensure_ascii=False))
    else:
        for r in rows:
            gaps = ", ".join(f"{a}-{b}" for a, b in r["gaps"]) or "none"
            print(f"{r['site']}/{r['device']}: {r['events']} events, verified to seq "
                  f"{r['verified_seq']} of {r['max_seq']}, gaps {gaps}, problems "
                  f"{r['problems']}")
        for site, device, seq, kind, detail in problems:
            print(f"  {site}/{device} seq {seq}: {kind}: {detail}")
        if quarantined:
            print(f"quarantined messages: {len(quarantined)}")
        for site, device, topic, reason, size, at in quarantined[-50:]:
            who = f"{site}/{device}" if site else "(no counter)"
            print(f"  {at} {who} {topic} ({size} bytes): {reason}")
    store.close()
    bad = problems or quarantined or any(r["gaps"] for r in rows)
    return EXIT_FAIL if bad else EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    from hq.publish.push import publish_content

    payload = args.file.read_bytes()
    opts = _broker_options(args, f"kiosk-hq-publish-{os.getpid()}")
    try:
        topic = publish_content(opts, args.prefix, args.site, args.kind, payload)
    except SyncError as exc:
        print(f"kiosk-hq: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"published {args.kind} to {topic} ({len(payload)} bytes)")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_sync())
