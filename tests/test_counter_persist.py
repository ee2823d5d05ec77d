"""The counter's saved state: what persists, what never does (the mirror, a document
waiting for its 确认), and reading a state an older or newer build saved."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from device.counter import Mode, Snapshot
from device.intents import CaseEnd, MirrorField
from tests.conftest import T0
from tests.test_counter import SECRET_ID, SECRET_NAME, counter_in


def test_snapshot_round_trips_without_the_mirror() -> None:
    for mode in ("idle", "serving", "rating", "rating_away", "away", "idle_unsatisfied"):
        s = counter_in(mode).state
        text = json.dumps(s.persistable(), ensure_ascii=False)
        assert SECRET_NAME not in text and SECRET_ID not in text
        back = Snapshot.restore(json.loads(text))
        assert back == s and back.mirror == ()


def test_restore_ignores_unknown_keys_and_fills_new_ones() -> None:
    # An older or newer build's saved state must not stop the counter.
    s = Snapshot.restore({"mode": "serving", "case_no": "C-7", "from_the_future": 1})
    assert s.mode is Mode.SERVING and s.case_no == "C-7" and s.detailed_case == ""


def test_t0_is_nine_in_the_morning_in_shanghai() -> None:
    # The fixtures above rely on it (return times, case numbers).
    local = datetime.fromtimestamp(T0, UTC).astimezone(
        ZoneInfo("Asia/Shanghai"))
    assert (local.hour, local.minute, local.date().isoformat()) == (9, 0, "2026-11-26")


def test_transition_persist_flags_only_persisted_changes() -> None:
    c = counter_in("serving")
    t = c.handle(MirrorField("phone", "电话", "138"), T0)
    assert not t.persist  # the mirror is memory only
    t = c.handle(CaseEnd(), T0)
    assert t.persist
    assert dataclasses.replace(t.after, mirror=()).persistable() == t.after.persistable()


def test_a_document_waiting_for_its_confirmation_is_never_saved() -> None:
    s = counter_in("serving_doc").state
    assert s.document is not None
    saved = s.persistable()
    assert "document" not in saved and "补正材料告知书" not in json.dumps(saved,
                                                                     ensure_ascii=False)
    back = Snapshot.restore(saved)
    assert back.document is None and back.case_no == s.case_no
