"""The workstation link's queue controls: recall, no_show, call and transfer.

Parsed here and merged into drivers/link.py's ops (``**QUEUE_OPS``), so the link's
framing, limits, replies and `kiosk sim link` apply to them unchanged. A parser checks
only the line's own fields; whether the ticket waits, the service is in the catalogue in
force or the window is another one is checked under the core lock by the ticket book
(device/ticket_ops.py), and the counter decides what its mode allows
(device/counter_queue.py). The protocol is in docs/workstation-link.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from device.errors import ParseError
from device.fields import int_field, text_field
from device.intents import CallTicket, Intent, NoShow, Recall, Transfer

# A ticket number as the queue prints it: the prefix (queue.prefix) and the day's count.
_NUMBER_RE = re.compile(r"[A-Za-z]{0,4}[0-9]{1,4}")
# The same format the counter holds a service code to (device/counter.py).
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
MAX_WINDOW = 99


def _number(m: dict[str, Any]) -> str:
    number = text_field(m, "number", limit=8)
    if not _NUMBER_RE.fullmatch(number):
        raise ParseError(f"number {number!r} must be a ticket number as printed, like "
                         "'A007'")
    return number


def _call(m: dict[str, Any]) -> Intent:
    return CallTicket(_number(m))


def _transfer(m: dict[str, Any]) -> Intent:
    number = _number(m)
    has_service, has_window = m.get("service") is not None, m.get("window") is not None
    if has_service == has_window:
        raise ParseError("transfer needs either 'service' (a catalogue code) or 'window' "
                         f"(1-{MAX_WINDOW}), not {'both' if has_service else 'neither'}")
    if has_window:
        return Transfer(number, window=int_field(m, "window", lo=1, hi=MAX_WINDOW))
    service = text_field(m, "service", limit=64)
    if not _SERVICE_RE.fullmatch(service):
        raise ParseError(f"service {service!r} must be a catalogue code like "
                         "'id_card.renew'")
    return Transfer(number, service=service)


QUEUE_OPS: dict[str, Callable[[dict[str, Any]], Intent]] = {
    "recall": lambda m: Recall(),
    "no_show": lambda m: NoShow(),
    "call": _call,
    "transfer": _transfer,
}
