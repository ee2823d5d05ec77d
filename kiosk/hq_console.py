"""`kiosk-hq serve` and `kiosk-hq user add`: the console on the collector's database.

    kiosk-hq serve --db hq.db --host 127.0.0.1 --port 8080
    kiosk-hq user add NAME --role admin|supervisor|chief|editor [--station SITE]
                     --db hq.db --password-file FILE

The console applies its migrations itself, serves its own static files (ECharts
included: police networks have no CDN) with waitress, and belongs behind a TLS reverse
proxy (docs/hq-console.md).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from device.errors import ParseError
from kiosk import sdnotify

log = logging.getLogger("hq.console")


def add_parsers(sub: argparse._SubParsersAction, default_db: str) -> None:
    s = sub.add_parser("serve", help="the web console (waitress; put TLS in front)")
    s.add_argument("--db", default=default_db, help="SQLite path or postgresql:// URL")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080, help="0: any free port")
    s.add_argument("--threads", type=int, default=8)

    o = sub.add_parser("orders", help="差评 work orders")
    osub = o.add_subparsers(dest="orders_command", required=True)
    t = osub.add_parser("tick", help="escalate overdue orders, delete old callback phones "
                        "(the console also does this every 5 minutes)")
    t.add_argument("--db", default=default_db)

    u = sub.add_parser("user", help="console users")
    usub = u.add_subparsers(dest="user_command", required=True)
    a = usub.add_parser("add", help="create a user with one role")
    a.add_argument("name")
    a.add_argument("--role", required=True,
                   choices=["admin", "supervisor", "chief", "editor"])
    a.add_argument("--station", default=None, help="a chief's site id")
    a.add_argument("--db", default=default_db)
    a.add_argument("--password-file", type=Path, required=True,
                   help="a file whose first line is the password (not a flag: ps shows flags)")


def _password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParseError(f"cannot read the password file {path}: {exc.strerror}. Fix: give a "
                         "readable file whose first line is the password") from None
    first = text.splitlines()[0] if text else ""
    if not first:
        raise ParseError(f"the password file {path} is empty. Fix: put the password on its "
                         "first line")
    return first


def user_add(args: argparse.Namespace) -> int:
    from hq.conf import configure

    password = _password(args.password_file)
    configure(args.db)  # before anything imports a model
    from hq.accounts.users import add_user
    from hq.db import HqDb

    db = HqDb.open(args.db)
    user = add_user(db.alias, args.name, args.role, password, station=args.station)
    where = f" for {args.station}" if args.station else ""
    print(f"user {user.get_username()} ({args.role}{where}) created")
    return 0


def orders_tick(args: argparse.Namespace) -> int:
    from hq.conf import configure

    configure(args.db)
    from hq.db import HqDb

    db = HqDb.open(args.db)
    res = _tick(db.alias)
    print(f"escalated {len(res.escalated)} overdue work orders; deleted "
          f"{len(res.phones_deleted)} callback phones")
    return 0


def _tick(alias: str) -> Any:
    from hq.holidays.calendar import work_calendar
    from hq.workorders.actions import tick

    return tick(work_calendar(alias), using=alias)


def _ticker(alias: str, stop: threading.Event, every_s: float = 300.0) -> None:
    """The console's timer: escalation and phone deletion need no cron job."""
    while not stop.wait(every_s):
        try:
            res = _tick(alias)
        except Exception:  # a bad round must not stop the next one
            log.exception("work-order timer failed")
            continue
        if res.escalated or res.phones_deleted:
            log.info("work orders: %d escalated, %d phones deleted", len(res.escalated),
                     len(res.phones_deleted))


def serve(args: argparse.Namespace) -> int:
    from hq.conf import configure, redact_url

    configure(args.db)  # before anything imports a model
    from django.core.handlers.wsgi import WSGIHandler
    from waitress.server import create_server

    from hq.accounts.users import first_admin_hint
    from hq.db import HqDb

    db = HqDb.open(args.db)  # migrations, as the collector does
    hint = first_admin_hint(db.alias, args.db)
    if hint:
        print(f"kiosk-hq: {hint}", file=sys.stderr)
    server = create_server(WSGIHandler(), host=args.host, port=args.port,
                           threads=args.threads, ident="kiosk-hq")
    port = server.effective_port
    health = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{port}/healthz"
    print(f"serving on http://{args.host}:{port}/ ({redact_url(args.db)})", flush=True)
    # WATCHDOG=1 only while the console answers a page that reads the database: a hung
    # worker pool or a lost database gets the unit restarted.
    watchdog = sdnotify.start_service(lambda: _answers(health), status=f"serving on {port}")
    stop = threading.Event()
    _tick(db.alias)  # at once: what fell due while the console was down
    threading.Thread(target=_ticker, args=(db.alias, stop), name="orders-timer",
                     daemon=True).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C at a terminal: a clean stop
            server.run()
    finally:
        stop.set()
        watchdog.stop()
    return 0


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return bool(reply.status == 200 and reply.read() == b"ok")
    except OSError:
        return False
