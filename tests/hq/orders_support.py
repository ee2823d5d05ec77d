"""A real counter's 差评 for the work-order tests: its journal as the collector gets it."""

from __future__ import annotations

import json
from typing import Any

from device.core import Core
from device.intents import CaseEnd, Press, RatingExtras
from device.store import Store

REASONS = ("态度不好", "等候时间长")
PHONE = "13812345678"


def very_unsatisfied_case(core: Core, store: Store) -> tuple[str, list[tuple[dict[str, Any],
                                                                          bool]]]:
    """Drive the counter: a case, 非常不满意, two reasons and a callback phone. Returns the
    case number and every event of the journal."""
    core.submit(Press("next"))
    core.submit(CaseEnd())
    core.submit(Press("very_unsatisfied"))
    case_no = core.state.rated_case
    assert case_no
    core.submit(RatingExtras(case_no, REASONS, PHONE))
    journal = [(json.loads(b), False) for (b,) in store.query(
        "SELECT body FROM events ORDER BY seq")]
    assert any(ev["type"] == "rating.details" for ev, _r in journal)
    return case_no, journal
