#!/usr/bin/env python3
"""Sample workstation client for the counter-kiosk workstation link (docs/workstation-link.md).

Standard library only, one file: copy it to the officer's PC and run it, or import
:class:`Link` from your own program. TCP works everywhere; a serial port (USB CDC) works
on Linux/macOS with the standard library alone, and on Windows (COM3) when pyserial is
installed.

    python3 workstation_client.py tcp://192.168.50.2:7301 --demo      # every op once
    python3 workstation_client.py tcp://192.168.50.2:7301 --queue-demo  # the queue controls
    python3 workstation_client.py tcp://127.0.0.1:7301 '{"op":"sign_in","badge":"000001"}'
    python3 workstation_client.py /dev/ttyACM0 -                      # lines from stdin
    python3 workstation_client.py COM3 --demo                         # Windows + pyserial

Every line sent gets exactly one reply line; this client numbers each request ("id") and
checks the reply carries the same id. Exit code: 0 if every reply was ok, 1 if one was
refused (the reply's "error" says why), 2 if the counter could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any

DEMO: list[dict[str, Any]] = [
    {"op": "sign_in", "badge": "000002"},
    {"op": "away", "reason": "临时会议", "return_at": "15:30", "phone": "0755-8000 0002",
     "backup": "2号窗口"},
    {"op": "back"},
    {"op": "call_next"},  # opens a case (and calls the next ticket, if any)
    {"op": "field", "key": "name", "label": "姓名", "value": "张三"},
    {"op": "case_end"},  # the citizen is invited to rate on the pad
    # A new case skips a rating the citizen did not give (rating.skipped).
    {"op": "case_start", "case_no": "SZ-20261126-0002", "service": "id_card.renew"},
    {"op": "field", "key": "name", "label": "姓名", "value": "李四"},
    {"op": "field", "key": "id_number", "label": "公民身份号码", "value": "440301199001011234",
     "sensitive": True},
    # Written documents: shown on the mirror, printed when the citizen taps 确认.
    {"op": "notice", "materials": [1], "remarks": "请携带原件"},
    {"op": "referral", "to": "exit_entry", "matter": "港澳通行证签注"},
    # After hours (户口代办): the materials received, handed on the next working day. A
    # home visit (上门服务) needs a working day from today: {"op": "home_visit", "date":
    # "YYYY-MM-DD", "slot": "09:00-11:00", "need": "elderly"}, never an address or name.
    {"op": "intake", "materials": [1], "remarks": "亲属代交"},
    {"op": "case_end", "case_no": "SZ-20261126-0002"},
]

# The queue controls, on a counter that is idle with at least three tickets waiting of
# one service (take them on the kiosk's screen first) and is not window 2.
QUEUE_DEMO: list[dict[str, Any]] = [
    {"op": "call_next"},  # calls the first waiting ticket, A001
    {"op": "recall"},  # 重呼: A001 is called again
    {"op": "no_show"},  # 过号: its case closes unrated; A001 waits again further back
    {"op": "call", "number": "A003"},  # out of order
    {"op": "case_end"},
    {"op": "transfer", "number": "A002", "window": 2},  # leaves this counter's queue
]


class LinkError(Exception):
    """The counter could not be reached, or closed the link."""


class _Tcp:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise LinkError(f"cannot connect to {host}:{port}: {exc}") from None
        self.file = self.sock.makefile("rwb")

    def send(self, data: bytes) -> None:
        self.file.write(data)
        self.file.flush()

    def readline(self) -> bytes:
        return self.file.readline(1 << 20)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class _PosixSerial:
    """A tty opened raw with the standard library (termios)."""

    def __init__(self, path: str, baudrate: int, timeout: float) -> None:
        import termios
        import tty

        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise LinkError(f"cannot open {path}: {exc}") from None
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        speed = getattr(termios, f"B{baudrate}", termios.B115200)
        attrs[4] = attrs[5] = speed  # ispeed, ospeed (ignored by USB CDC, needed by UARTs)
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = max(1, min(255, int(timeout * 10)))
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        self.buf = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def readline(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return b""  # timeout
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        os.close(self.fd)


class _PySerial:
    def __init__(self, port: str, baudrate: int, timeout: float) -> None:
        import serial  # type: ignore[import-untyped]

        try:
            self.port = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
        except (OSError, ValueError) as exc:
            raise LinkError(f"cannot open {port}: {exc}") from None

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def readline(self) -> bytes:
        return bytes(self.port.readline())

    def close(self) -> None:
        self.port.close()


class Link:
    """One connection to the counter. ``send(op, **fields)`` returns the reply dict."""

    def __init__(self, url: str, baudrate: int = 115200, timeout: float = 5.0) -> None:
        if url.startswith("tcp://"):
            host, _, port = url[len("tcp://"):].rstrip("/").rpartition(":")
            self._io: Any = _Tcp(host.strip("[]"), int(port), timeout)
        elif os.name == "posix" and not url.count("://"):
            self._io = _PosixSerial(url, baudrate, timeout)
        else:
            self._io = _PySerial(url, baudrate, timeout)
        self._next_id = 1

    def send(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.send_message({"op": op, **fields})

    def send_message(self, message: dict[str, Any]) -> dict[str, Any]:
        msg = dict(message)
        msg.setdefault("id", self._next_id)
        self._next_id += 1
        return self.send_line(json.dumps(msg, ensure_ascii=False), expect_id=msg["id"])

    def send_line(self, line: str, expect_id: Any = None) -> dict[str, Any]:
        """Send one raw line (no newline inside) and return its reply."""
        self._io.send(line.encode("utf-8") + b"\n")
        raw = self._io.readline()
        if not raw:
            raise LinkError("no reply from the counter (timeout or connection closed)")
        reply: dict[str, Any] = json.loads(raw)
        if expect_id is not None and "id" in reply and reply["id"] != expect_id:
            raise LinkError(f"reply id {reply['id']!r} does not match request id {expect_id!r}")
        return reply

    def close(self) -> None:
        self._io.close()

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="tcp://HOST:PORT, a serial device (/dev/ttyACM0) or COMn")
    p.add_argument("lines", nargs="*", help="JSON lines to send; '-' reads them from stdin")
    p.add_argument("--demo", action="store_true", help="send one of every op")
    p.add_argument("--queue-demo", action="store_true",
                   help="send the queue controls (three tickets must be waiting)")
    p.add_argument("--baudrate", type=int, default=115200)
    p.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_intermixed_args(argv)
    try:
        link = Link(args.url, args.baudrate, args.timeout)
    except LinkError as exc:
        print(f"workstation_client: {exc}", file=sys.stderr)
        return 2
    status = 0
    with link:
        demo = (DEMO if args.demo else []) + (QUEUE_DEMO if args.queue_demo else [])
        lines: list[str] = [json.dumps(m, ensure_ascii=False) for m in demo]
        for line in args.lines:
            lines.extend(sys.stdin if line == "-" else [line])
        for line in lines:
            line = line.strip()
            if not line:
                continue
            print(f">> {line}")
            try:
                reply = link.send_line(line)
            except (LinkError, ValueError) as exc:
                print(f"workstation_client: {exc}", file=sys.stderr)
                return 2
            print(f"<< {json.dumps(reply, ensure_ascii=False)}")
            if not reply.get("ok"):
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
