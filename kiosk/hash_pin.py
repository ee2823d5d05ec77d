"""Print the hash of an officer's panel PIN, for a [[roster]] entry's pin_hash.

The PIN is asked for twice at the terminal (never an argument: `ps` would show it), or
read from one line of standard input with --stdin. HQ's console makes the same hashes
for the roster it publishes (device/pins.py).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from device.config import Config
from device.errors import ParseError
from device.pins import ITERATIONS, check_pin, make

EXIT_OK, EXIT_FAIL = 0, 1


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdin", action="store_true", help="read the PIN from standard input")
    p.add_argument("--iterations", type=int, default=ITERATIONS, help=argparse.SUPPRESS)


def main(args: argparse.Namespace, config: Config) -> int:
    try:
        if args.stdin:
            pin = sys.stdin.readline().strip()
        else:
            pin = getpass.getpass("PIN (4-12 digits): ")
            if getpass.getpass("PIN again: ") != pin:
                print("kiosk hash-pin: the two PINs differ; nothing printed", file=sys.stderr)
                return EXIT_FAIL
        check_pin(pin)
    except ParseError as exc:
        print(f"kiosk hash-pin: {exc}; nothing printed", file=sys.stderr)
        return EXIT_FAIL
    print(make(pin, iterations=args.iterations))
    return EXIT_OK
