"""atheris: the QR scanner's appointment parser and its CR/LF line framing.

    python fuzz/fuzz_scanner.py -runs=100000 -rss_limit_mb=512
"""

from __future__ import annotations

import atheris
from _harness import run

from device.errors import ParseError

with atheris.instrument_imports(include=["drivers"]):
    from drivers.framing import LineSplitter, TooLong
    from drivers.scanner import (
        AppointmentScan,
        ScanError,
        check_char,
        check_scan,
        parse_scan,
    )


def target(data: bytes) -> None:
    try:
        scan = parse_scan(data)
    except ScanError as exc:
        assert exc.screen, "every refusal has an on-screen message"
    except ParseError:
        raise AssertionError("parse_scan raised a ParseError without a screen message") from None
    else:
        assert isinstance(scan, AppointmentScan)
        body = f"CK1|{scan.site}|{scan.code}|{scan.date}"
        assert check_char(body) in data.decode("utf-8")
        try:
            check_scan(scan, "demo-site", "20261126")
        except ScanError as exc:
            assert exc.screen
    splitter = LineSplitter(512, b"\r\n")
    for line in splitter.feed(data):
        assert isinstance(line, TooLong) or (b"\r" not in line and b"\n" not in line)
    assert len(splitter._buf) <= 512


if __name__ == "__main__":
    run(target)
