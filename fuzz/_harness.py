"""Shared by the atheris harnesses: the contract every parser of outside input keeps.

A target gets the fuzzer's bytes and must either return a valid message or raise
:class:`device.errors.ParseError`; anything else (another exception, a wrong type, an
invariant broken) propagates, and atheris reports it as a crash with the input saved.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python fuzz/fuzz_x.py` from anywhere
    sys.path.insert(0, str(ROOT))


def run(target: Callable[[bytes], None]) -> None:
    import atheris

    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
