"""The `kiosk` command: run the counter, drive a simulated one, read its events.

    kiosk run [--config FILE] [--simulate] [--headless] [--state-dir DIR]
    kiosk sim [--config FILE] [--state-dir DIR] press NAME | link JSON | state | pins | raw JSON
    kiosk sim hall | station     (a station's hall display / window or entrance)
    kiosk sim printer [--paper out|near_end|ok] [--cover open|closed] [--last N]
    kiosk events [--config FILE] [--state-dir DIR] [--json] [--unsent] [--limit N]
    kiosk check-config [--config FILE]

Exit codes: 0 ok, 1 the command failed (e.g. no counter running, a refused request, an
argument that is not UTF-8 text, the counter gone mid-request, the output pipe closed),
2 bad configuration (including a state directory that cannot be used) or bad usage.
Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from device import __version__
from device.config import Config, load
from device.errors import ConfigError, KioskError
from device.store_journal import JournalReader
from kiosk import doctor, hash_pin, screenshots

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2

# Subcommands with a module of their own: each has register(parser) and main(args, config).
EXTRA = {"doctor": doctor, "screenshots": screenshots, "hash-pin": hash_pin}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=os.environ.get("KIOSK_CONFIG"),
                   help="config.toml to use (default: $KIOSK_CONFIG, else embedded defaults)")
    p.add_argument("--state-dir", help="override device.state_dir (database, control socket)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="counter-kiosk controller")
    parser.add_argument("--version", action="version", version=f"counter-kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the counter")
    _common(run)
    run.add_argument("--simulate", action="store_true",
                     help="simulated pins, printer, sign, link and scanner")
    run.add_argument("--headless", action="store_true", help="no screen (no Kivy)")

    sim = sub.add_parser("sim", help="drive a running simulated counter")
    _common(sim)
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    press = sim_sub.add_parser("press", help="press a button: a rating level, away or next")
    press.add_argument("button")
    press.add_argument("--times", type=int, default=1, help="press it N times in a row")
    link = sim_sub.add_parser("link", help="send one workstation-link JSON line")
    link.add_argument("line")
    scan = sim_sub.add_parser("scan", help="scan a QR code (its text)")
    scan.add_argument("code")
    sim_sub.add_parser("confirm", help="the citizen taps 确认并打印 on the mirror "
                       "(headless simulation: issue and print the document shown)")
    sim_sub.add_parser("state", help="show the counter state")
    sim_sub.add_parser("pins", help="show LED and button pin states")
    sim_sub.add_parser("sign", help="show what the away sign shows")
    sim_sub.add_parser("hall", help="show the lines the hall display shows (role hall)")
    sim_sub.add_parser("station", help="show the station link: online, the board, the "
                       "own-block tickets not yet reconciled (role window or entrance)")
    printer = sim_sub.add_parser("printer", help="show the simulated printer's last jobs "
                                 "as text; set its paper, cover, line or cable")
    printer.add_argument("--paper", choices=["ok", "near_end", "out"])
    printer.add_argument("--cover", choices=["open", "closed"])
    printer.add_argument("--online", choices=["yes", "no"])
    printer.add_argument("--unplugged", choices=["yes", "no"])
    printer.add_argument("--paper-after", type=int, help="paper runs out after N more bytes")
    printer.add_argument("--last", type=int, default=3, help="show the last N jobs")
    raw = sim_sub.add_parser("raw", help="send a raw control request (JSON)")
    raw.add_argument("request")

    events = sub.add_parser("events", help="print stored events")
    _common(events)
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--unsent", action="store_true", help="only events not yet sent")
    events.add_argument("--limit", type=int, default=None, help="at most N (the newest)")

    check = sub.add_parser("check-config", help="validate a config file and exit")
    _common(check)

    for name, mod in EXTRA.items():
        p = sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0] if mod.__doc__ else "")
        _common(p)
        mod.register(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        # The reader went away (`kiosk sim ... | head -1`, `kiosk events | head`). Point
        # stdout at /dev/null so the interpreter's final flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        print("kiosk: output closed before everything was written (broken pipe)",
              file=sys.stderr)
        return EXIT_FAIL


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
        if getattr(args, "state_dir", None):
            config = config.with_state_dir(args.state_dir)
    except ConfigError as exc:
        print(f"kiosk: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.command == "run":
            return _run(args, config)
        if args.command == "sim":
            return _sim(args, config)
        if args.command == "events":
            return _events(args, config)
        if args.command == "check-config":
            print(f"{config.source}: ok")
            return EXIT_OK
        return int(EXTRA[args.command].main(args, config))
    except ConfigError as exc:
        print(f"kiosk: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KioskError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_FAIL


def _run(args: argparse.Namespace, config: Config) -> int:
    from kiosk import logsetup
    from kiosk.app import KioskApp

    if args.simulate:
        config = config.simulated()
    logsetup.setup(config.logging.level)
    return KioskApp(config, headless=args.headless).run()


def _sim(args: argparse.Namespace, config: Config) -> int:
    from kiosk.control import ControlClient

    cmd = args.sim_command
    for name in ("button", "line", "code", "request"):
        bad = _not_utf8(getattr(args, name, None))
        if bad:
            print(f"kiosk sim {cmd}: the {name} argument is not valid UTF-8 ({bad}). Fix: "
                  "pass UTF-8 text (check the terminal's or the script's encoding)",
                  file=sys.stderr)
            return EXIT_FAIL
    requests: list[dict[str, Any]]
    if cmd == "press":
        requests = [{"cmd": "press", "button": args.button}] * max(1, args.times)
    elif cmd == "link":
        requests = [{"cmd": "link", "line": args.line}]
    elif cmd == "scan":
        requests = [{"cmd": "scan", "code": args.code}]
    elif cmd == "printer":
        req = {"cmd": "printer", "last": args.last}
        for key in ("paper", "cover", "paper_after"):
            if getattr(args, key) is not None:
                req[key] = getattr(args, key)
        for key in ("online", "unplugged"):
            if getattr(args, key) is not None:
                req[key] = getattr(args, key) == "yes"
        requests = [req]
    elif cmd == "raw":
        try:
            req = json.loads(args.request)
        except json.JSONDecodeError:
            print("kiosk sim raw: the request must be a JSON object", file=sys.stderr)
            return EXIT_CONFIG
        requests = [req]
    else:
        requests = [{"cmd": cmd}]
    status = EXIT_OK
    with ControlClient(config.control_socket) as client:
        for req in requests:
            reply = client.request(req)
            print(json.dumps(reply, ensure_ascii=False))
            # Failed: the request (bad command), the link line (refused) or the press
            # (not taken: refused or debounced). Scripts can rely on the exit code.
            if (not reply.get("ok") or not reply.get("reply", {"ok": True}).get("ok", True)
                    or reply.get("taken") is False):
                status = EXIT_FAIL
    if status != EXIT_OK:
        print(f"kiosk sim {cmd}: refused (see the error above)", file=sys.stderr)
    return status


def _not_utf8(value: object) -> str:
    """Python hands non-UTF-8 argv bytes over as lone surrogates (surrogateescape):
    say where the first one is, or "" when the text is fine."""
    if not isinstance(value, str):
        return ""
    for i, ch in enumerate(value):
        if "\udc80" <= ch <= "\udcff":
            return f"byte 0x{ord(ch) - 0xDC00:02x} at character {i + 1}"
        if "\ud800" <= ch <= "\udfff":
            return f"lone surrogate U+{ord(ch):04X} at character {i + 1}"
    return ""


def _events(args: argparse.Namespace, config: Config) -> int:
    path = config.db_path
    if not path.exists():
        print(f"kiosk events: no database at {path}. Fix: run the counter first, or pass the "
              "--config/--state-dir it runs with.", file=sys.stderr)
        return EXIT_FAIL
    # Read-only: a technician's look must never write to the counter's database.
    try:
        journal = JournalReader(path)
    except sqlite3.Error as exc:
        print(f"kiosk events: cannot open {path}: {exc}. Fix: run as a user that may read "
              "it (e.g. sudo -u kiosk), or pass the --state-dir the counter runs with",
              file=sys.stderr)
        return EXIT_FAIL
    try:
        rows = journal.recent_events(limit=args.limit, unsent_only=args.unsent)
        unsent, _oldest = journal.outbox_depth()
    except sqlite3.DatabaseError as exc:
        print(f"kiosk events: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        journal.close()
    for body, sent_at in rows:
        ev = json.loads(body)
        ev["sent_at"] = sent_at
        if args.json:
            print(json.dumps(ev, ensure_ascii=False))
        else:
            data = " ".join(f"{k}={v}" for k, v in ev["data"].items() if k != "callback_phone")
            mark = "sent" if sent_at else "UNSENT"
            print(f"{ev['seq']:>7} {ev['ts']} {mark:<6} {ev['type']:<24} {data}")
    if not args.json:
        print(f"-- {len(rows)} shown, {unsent} unsent in {path}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
