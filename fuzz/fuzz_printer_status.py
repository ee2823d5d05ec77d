"""atheris: the printer's DLE EOT status parser (drivers.printer.status.parse_status).

    python fuzz/fuzz_printer_status.py -runs=100000 -rss_limit_mb=512
"""

from __future__ import annotations

import atheris
from _harness import run

from device.errors import ParseError

with atheris.instrument_imports(include=["drivers.printer.status"]):
    from drivers.printer import status


def target(data: bytes) -> None:
    n = data[0] - 64 if data else 0  # n from -64..191: 1..4 valid, the rest must be refused
    try:
        result = status.parse_status(n, data[1:])
    except ParseError:
        return
    assert isinstance(result, status.PrinterStatus), result
    assert n in (1, 2, 3, 4)


if __name__ == "__main__":
    run(target)
