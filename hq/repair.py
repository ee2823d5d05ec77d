"""Gap repair: which seq ranges HQ asks a counter to send again, and when.

The counter's journal, not the broker, guarantees delivery: a broker can acknowledge a
message and still lose it before HQ has it (Mosquitto 2.0.11 forgets a shared
subscription over a restart). Most of that is healed by the counter itself, which
re-publishes what HQ has not confirmed (``confirmed`` topic). Repair is the second net,
for a gap below events HQ already holds or a tail the counter's health reports:

- a range is asked for only when it was seen on two passes in a row (not just
  out-of-order delivery between two collectors);
- one ``cmd/resend`` covers a whole missing range (up to ``RESEND_MAX`` seqs), so the
  cost scales with the gap, not with a fixed 10 events per pass;
- while a request for a range is outstanding (``timeout_s``) it is not asked again, and
  neither is any range overlapping it: a resend still queued is not a new loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # (site, device)
Range = tuple[int, int]

RESEND_MAX = 10_000  # the most seqs one request asks for (the counter bounds it too)
GAPS_PER_PASS = 10  # per counter: a counter with more is broken, and asked step by step


@dataclass
class Repairer:
    timeout_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[Key, set[Range]] = field(default_factory=dict)
    _outstanding: dict[Key, dict[Range, float]] = field(default_factory=dict)

    def wanted(self, row: Mapping[str, Any], device_head: int | None) -> list[Range]:
        """The ranges missing for one counter (``integrity()`` row), each bounded."""
        ranges = [(int(a), int(b)) for a, b in row["gaps"][:GAPS_PER_PASS]]
        top = int(row["max_seq"])
        if device_head is not None and device_head > top and len(ranges) < GAPS_PER_PASS:
            ranges.append((top + 1, device_head))
        return [(a, min(b, a + RESEND_MAX - 1)) for a, b in ranges]

    def plan(self, rows: Iterable[tuple[Key, list[Range]]]) -> list[tuple[Key, int, int]]:
        """Given every counter's missing ranges now, the requests to send (and remember)."""
        now = self.clock()
        asks: list[tuple[Key, int, int]] = []
        seen: dict[Key, set[Range]] = {}
        for key, ranges in rows:
            out = {r: t for r, t in self._outstanding.get(key, {}).items() if t > now}
            if ranges:
                seen[key] = set(ranges)
            before = self._seen.get(key, set())
            for r in ranges:
                if r not in before:
                    continue  # first sighting: may be reordering
                if any(a <= r[1] and r[0] <= b for a, b in out):
                    continue  # a request covering it is still on its way
                out[r] = now + self.timeout_s
                asks.append((key, *r))
            if out:
                self._outstanding[key] = out
            else:
                self._outstanding.pop(key, None)
        self._seen = seen
        return asks

    def outstanding(self, key: Key) -> list[Range]:
        now = self.clock()
        return sorted(r for r, t in self._outstanding.get(key, {}).items() if t > now)
