"""How a config key is declared: its range, written next to its definition.

:func:`ranged` and :func:`bcm_pin` make the dataclass fields of device/config.py's
sections (and station/config.py's); :func:`range_of` is how device/config_load.py finds
a field's range to check a value against it, with a message that says the fix.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

T = typing.TypeVar("T", int, float)

@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric key, written next to its definition below.

    ``why`` says what the bounds mean (it ends up in the Fix of the error message);
    ``problem`` replaces the generic problem text (``{value}`` is filled in).
    """

    lo: float
    hi: float
    why: str = ""
    problem: str = ""

    def check(self, value: float) -> str | None:
        if self.lo <= value <= self.hi:
            return None
        if self.problem:
            return self.problem.format(value=value)
        side = "below the minimum" if value < self.lo else "above the maximum"
        return f"{value!r} is {side} ({_num(self.lo)} to {_num(self.hi)})"

    def fix(self) -> str:
        text = f"use a value from {_num(self.lo)} to {_num(self.hi)}"
        return f"{text} ({self.why})" if self.why else text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def ranged(default: T, lo: float, hi: float, why: str = "", problem: str = "") -> T:
    """A numeric key with a default and its range (checked by :func:`loads`)."""
    return field(default=default, metadata={"range": Range(lo, hi, why, problem)})


def range_of(f: dataclasses.Field[Any]) -> Range | None:
    r = f.metadata.get("range")
    return r if isinstance(r, Range) else None


_PIN = Range(0, 27, "a BCM number of the 40-pin header, see docs/wiring.md",
             "BCM pin {value} does not exist on the 40-pin header")
_BAUD = (1200, 4_000_000, "bits per second of the serial port")
_PORT = (1, 65535, "a TCP port")
_RETRY = (0.1, 3600.0, "seconds between tries")


def bcm_pin(default: int | None = None) -> int:
    if default is None:
        return field(metadata={"range": _PIN})
    return field(default=default, metadata={"range": _PIN})
