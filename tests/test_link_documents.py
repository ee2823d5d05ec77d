"""The link's document ops on a real core and SQLite store: notice, refusal, receipt and
referral are shown on the mirror, printed once the citizen confirms, recorded; every
refusal changes nothing; promise_change records a new date."""

from __future__ import annotations

import json
from typing import Any

import pytest

from device.core import Core
from device.counter import Mode
from device.events import EventType
from device.intents import ConfirmDocument
from device.printjobs import PrintJob
from drivers.link import handle_line
from drivers.printer.decode import decode_text
from drivers.printer.layout import WIDTH_DOTS, Profile, job_bytes


def send(core: Core, **line: Any) -> dict[str, Any]:
    return handle_line(core, json.dumps(line, ensure_ascii=False))


def types(core: Core) -> list[str]:
    return [e["type"] for e in core.store.events()]


def jobs(core: Core) -> list[tuple[str, dict[str, Any]]]:
    return [(k, json.loads(b)) for k, b in
            core.store.query("SELECT kind, body FROM print_jobs ORDER BY id")]


@pytest.fixture
def serving(core: Core) -> Core:
    assert send(core, op="case_start", case_no="C-0007", service="hukou.move_in")["ok"]
    return core


def test_notice_is_shown_then_printed_when_the_citizen_confirms(serving: Core) -> None:
    core = serving
    reply = send(core, op="notice", materials=[1, 2], remarks="原件须本人携带", id=7)
    assert reply["ok"] and reply["id"] == 7 and reply["state"] == "serving", reply
    assert types(core)[-1] == EventType.DOCUMENT_SHOWN
    assert core.state.document is not None and jobs(core) == []  # nothing printed yet
    outcome = core.submit(ConfirmDocument())
    assert outcome.ok and [e.type for e in outcome.events] == [EventType.DOCUMENT_ISSUED]
    issued = outcome.events[0].data
    assert issued["case_no"] == "C-0007" and issued["kind"] == "notice"
    [(kind, body)] = jobs(core)
    assert kind == "notice" and body["case_no"] == "C-0007"
    assert body["catalogue_version"] == issued["catalogue_version"]
    # The job prints, and the Chinese decodes back, in both modes and both widths.
    for mode in ("native", "raster"):
        for mm in (58, 80):
            data = job_bytes(PrintJob(kind, body), Profile(WIDTH_DOTS[mm], chinese=mode))
            assert data.endswith(b"\x1dV\x00") or b"\x1dV" in data  # cut at the end
            if mode == "native":  # (raster: the text is pictures, the goldens hold them)
                text = decode_text(data).replace("\n", "")
                assert "补正材料告知书" in text and "C-0007" in text
                assert body["missing"][0].replace("\n", "")[:6] in text
    assert core.state.document is None
    assert not core.submit(ConfirmDocument()).ok  # once: a second tap prints nothing
    assert len(jobs(core)) == 1


@pytest.mark.parametrize(("line", "kind", "check"), [
    ({"op": "refusal", "reason": "非本辖区户籍", "basis": "《户口登记条例》第三条"}, "refusal",
     lambda b: b["legal_basis"] == "《户口登记条例》第三条"),
    ({"op": "receipt", "pickup": "本窗口领取"}, "receipt",
     lambda b: b["promised_date"] == "2026年12月3日"),  # 5 working days from Nov 26
    ({"op": "referral", "to": "exit_entry", "matter": "签注"}, "referral",
     lambda b: b["to_unit"] == "市公安局出入境管理支队"),
])
def test_each_document_prints_its_kind(serving: Core, line: dict[str, Any], kind: str,
                                       check: Any) -> None:
    assert send(serving, **line)["ok"]
    assert serving.submit(ConfirmDocument()).ok
    [(printed, body)] = jobs(serving)
    assert printed == kind and check(body), body


@pytest.mark.parametrize(("line", "error"), [
    ({"op": "notice", "materials": []}, "non-empty list"),
    ({"op": "notice", "materials": ["户口本"]}, "not in the catalogue list of hukou.move_in"),
    ({"op": "notice", "materials": [42]}, "number 42"),
    ({"op": "notice", "materials": [1], "deadline": "2026-11-01"}, "in the past"),
    ({"op": "refusal", "reason": "x"}, "both reason and basis"),
    ({"op": "refusal", "refusal": True}, "number from 1 to 99"),
    ({"op": "receipt", "promised_date": "2026-11-28"}, "not a working day"),
    ({"op": "referral", "to": "tax"}, "not in the catalogue's referral list"),
    ({"op": "referral"}, "'to'"),
    ({"op": "notice", "materials": [1], "remarks": "a\u202eb"}, "remarks"),
])
def test_a_refused_document_changes_nothing(serving: Core, line: dict[str, Any],
                                            error: str) -> None:
    before = types(serving)
    reply = send(serving, **line)
    assert not reply["ok"] and error in reply["error"], reply
    assert types(serving) == before and serving.state.document is None and jobs(serving) == []


def test_documents_need_an_open_case(core: Core) -> None:
    reply = send(core, op="receipt")
    assert not reply["ok"] and "needs an open case" in reply["error"]
    assert not core.submit(ConfirmDocument()).ok


def test_a_receipt_running_into_an_unknown_year_is_refused(core: Core, clock: Any) -> None:
    clock.now = clock.now + 24 * 86400  # 2026-12-20: 20 working days end in 2027
    assert send(core, op="case_start", case_no="C-0100", service="hukou.change")["ok"]
    reply = send(core, op="receipt")
    assert not reply["ok"] and "no holiday data for 2027" in reply["error"], reply
    assert core.state.document is None


def test_an_unconfirmed_document_is_withdrawn_with_its_case(serving: Core) -> None:
    assert send(serving, op="notice", materials=[1])["ok"]
    assert send(serving, op="notice", materials=[1, 2])["ok"]  # a correction replaces it
    assert send(serving, op="case_end")["ok"]
    assert types(serving)[-5:] == [EventType.DOCUMENT_SHOWN, EventType.DOCUMENT_WITHDRAWN,
                                   EventType.DOCUMENT_SHOWN, EventType.DOCUMENT_WITHDRAWN,
                                   EventType.CASE_ENDED]
    assert serving.state.mode is Mode.RATING and jobs(serving) == []


def test_promise_change_records_the_new_date_and_reason(core: Core) -> None:
    reply = send(core, op="promise_change", case_no="C-0007", new_date="2026-12-08",
                 reason="需外省协查")
    assert reply["ok"], reply
    ev = core.store.events()[-1]
    assert ev["type"] == EventType.PROMISE_CHANGED
    assert ev["data"] == {"case_no": "C-0007", "new_date": "2026-12-08", "reason": "需外省协查",
                       "officer": core.state.officer}
    for bad, why in [({"new_date": "2026-12-05"}, "not a working day"),
                     ({"new_date": "2026-11-01"}, "in the past"),
                     ({"reason": ""}, "reason"), ({"case_no": "C 7"}, "case_no")]:
        line = {"op": "promise_change", "case_no": "C-0007", "new_date": "2026-12-08",
                "reason": "需外省协查", **bad}
        reply = send(core, **line)
        assert not reply["ok"] and why in reply["error"], reply
    assert types(core).count(EventType.PROMISE_CHANGED) == 1
