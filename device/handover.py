"""After-hours intakes handed on to the registration queue (户口代办).

Out of hours the duty officer only receives the materials; the registration officer
handles them on the next working day. When the citizen confirms the intake receipt
(``document.issued`` with kind ``intake``), the core commits, in the same transaction, a
queue ticket dated that receipt's ``handover_date`` (:func:`queue_intake`): on that day the
waiting queue holds it like any ticket, so ``call_next`` and ``call DB001`` reach it; before
it, it is in no day's queue. Its ``intake.queued`` event says it was handed on, and
``intake.called`` (:func:`called`), committed with the ``ticket.called`` of the call, says
the registration officer took it up, so HQ can report intakes handed on and handled.

The ticket numbers ``DB001``, ``DB002``, ... (代办) are counted apart from the citizens'
tickets of the day, so a handed-on intake never shifts ``A001`` (queue.prefix must not
be ``DB``). Nothing here is personal data: the case number, the service, the officer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from device.events import Draft, EventType
from device.store import Store, Writer

HANDOVER_PREFIX = "DB"
# The priority of a citizen's ticket (device/tickets.py PRIORITY_NORMAL): the intake waits
# in line, ahead of the day's walk-ins only because it was received before them.
_PRIORITY = 0


def queue_intake(store: Store, record: Mapping[str, Any], now: float) -> tuple[Draft, Writer]:
    """The ``intake.queued`` event and the ticket row that hand the intake ``record`` (a
    document's record) on; read and written under the core lock, so two intakes never
    take one number."""
    day = str(record["handover_date"])
    number = f"{HANDOVER_PREFIX}{store.intakes_queued(day) + 1:03d}"
    draft = Draft(EventType.INTAKE_QUEUED, {
        "case_no": record["case_no"], "service": record["service"],
        "officer": record["officer"], "handover_date": day, "number": number})
    return draft, store.queue_intake({
        "day": day, "number": number, "service": record["service"], "priority": _PRIORITY,
        "issued_ts": now, "intake": record["case_no"]})


def call_facts(row: Mapping[str, Any]) -> dict[str, str]:
    """What ``ticket.called`` adds for a handed-on intake: its case number, so the hall
    is not asked to send anybody to the window (nobody waits for it: the sound and the
    screen stay quiet) and HQ can leave it out of the citizens' waiting times."""
    return {"intake": str(row["intake"])} if row.get("intake") else {}


def called(row: Mapping[str, Any], day: str, window: int) -> tuple[Draft, ...]:
    """``intake.called`` when the ticket ``row`` being called hands an intake on; none
    for a citizen's ticket."""
    if not row.get("intake"):
        return ()
    return (Draft(EventType.INTAKE_CALLED, {
        "case_no": row["intake"], "number": row["number"], "service": row["service"],
        "handover_date": day, "window": window}),)
