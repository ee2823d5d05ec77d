"""The counter state machine: every input in every mode, one rating per case, no personal
data in persisted state or events.

The table at the top of device/counter.py and docs/counter-states.md is what these cells
check; a change to one must change the other.
"""

from __future__ import annotations

import json

import pytest

from device import counter as counter_module
from device.codes import Refusal
from device.counter import Counter, CounterSettings, Mode, Snapshot, Transition
from device.documents import DocKind, Document
from device.events import EventType
from device.intents import (
    AwayClear,
    AwaySet,
    CaseEnd,
    CaseStart,
    ConfirmDocument,
    Intent,
    MirrorAnswer,
    MirrorField,
    Press,
    PromiseChange,
    RatingExtras,
    ShowDocument,
    SignIn,
    SignOut,
    Tick,
)
from device.rating import RatingLevel
from tests.conftest import T0

SETTINGS = CounterSettings(
    device="w01", rating_s=30.0, timezone="Asia/Shanghai", on_duty="000001",
    away_reason="临时离开", away_minutes=15,
    phones=(("000001", "0755-8000 0001"), ("000002", "0755-8000 0002")),
    backups=("000002", "000001"), backup_window=2,
)
SECRET_NAME = "张三丰"
SECRET_ID = "440301199001011234"


def doc(case_no: str = "C-1") -> Document:
    return Document(DocKind.NOTICE, case_no, "id_card.renew", "补正材料告知书",
                    (("需补正材料", "1. 原居民身份证"),), {"case_no": case_no},
                    {"kind": "notice", "case_no": case_no})


SHOW, CONFIRM = ShowDocument(doc()), ConfirmDocument()
MOVE = PromiseChange("C-0", "2026-12-08", "需外省协查")


def counter_in(mode: str) -> Counter:
    """A counter brought to ``mode`` through its own inputs (never by poking state)."""
    c = Counter(SETTINGS)
    steps: list[Intent] = []
    if mode in ("serving", "serving_doc", "rating", "rating_away", "idle_rated",
                "idle_unsatisfied"):
        steps += [CaseStart("C-1", "id_card.renew"),
                  MirrorField("name", "姓名", SECRET_NAME),
                  MirrorField("id_number", "身份证号", SECRET_ID, sensitive=True)]
    if mode in ("rating", "rating_away", "idle_rated", "idle_unsatisfied"):
        steps.append(CaseEnd())
    if mode == "rating_away":
        steps.append(Press("away"))
    if mode == "idle_rated":
        steps.append(Press("satisfied"))
    if mode == "idle_unsatisfied":
        steps.append(Press("unsatisfied"))
    if mode == "away":
        steps.append(Press("away"))
    if mode == "serving_doc":
        steps.append(SHOW)
    for intent in steps:
        t = c.handle(intent, T0)
        assert not t.refused, (intent, t.refused)
    return c


def types(t: Transition) -> list[str]:
    return [str(d.type) for d in t.drafts]


LATE = T0 + SETTINGS.rating_s + 1
R = Press("satisfied")

# (start mode, input, now, mode after, event types, refusal (None = taken))
CELLS = [
    # ---------------------------------------------------------------- idle
    ("idle", R, T0, "idle", [], Refusal.NO_CASE),
    ("idle", Press("away"), T0, "away", ["away.started"], None),
    ("idle", Press("next"), T0, "serving", ["case.started"], None),
    ("idle", CaseStart("C-2", "hukou.birth"), T0, "serving", ["case.started"], None),
    ("idle", CaseEnd(), T0, "idle", [], Refusal.NO_CASE_TO_END),
    ("idle", SignIn("000002"), T0, "idle", ["officer.signed_out", "officer.signed_in"], None),
    ("idle", SignIn("000001"), T0, "idle", [], Refusal.SIGNED_IN),
    ("idle", SignOut(), T0, "idle", ["officer.signed_out"], None),
    ("idle", MirrorField("name", "姓名", "x"), T0, "idle", [], Refusal.FIELD_NEEDS_CASE),
    ("idle", MirrorAnswer("name", True), T0, "idle", [], Refusal.ANSWER_NEEDS_CASE),
    ("idle", AwaySet("开会", "10:30"), T0, "away", ["away.started"], None),
    ("idle", AwayClear(), T0, "idle", [], Refusal.NOT_AWAY),
    ("idle", Tick(LATE), LATE, "idle", [], None),
    ("idle", RatingExtras("C-1", ("态度",)), T0, "idle", [], Refusal.NO_DETAILS_DUE),
    ("idle", SHOW, T0, "idle", [], Refusal.DOCUMENT_NEEDS_CASE),
    ("idle", CONFIRM, T0, "idle", [], Refusal.NO_DOCUMENT),
    ("idle", MOVE, T0, "idle", ["promise.changed"], None),
    ("idle_rated", R, T0, "idle", [], Refusal.RATED),
    ("idle_rated", Press("very_unsatisfied"), T0, "idle", [], Refusal.RATED),
    ("idle_rated", RatingExtras("C-1", ("态度",)), T0, "idle", [], Refusal.NO_DETAILS_DUE),
    ("idle_unsatisfied", RatingExtras("C-1", ("态度",)), T0, "idle", ["rating.details"], None),
    ("idle_unsatisfied", RatingExtras("C-9"), T0, "idle", [], Refusal.NO_DETAILS_DUE),
    # ---------------------------------------------------------------- serving
    ("serving", R, T0, "serving", [], Refusal.NOT_YET),
    ("serving", Press("away"), T0, "serving", [], Refusal.END_CASE_FIRST),
    ("serving", Press("next"), T0, "rating", ["case.ended"], None),
    ("serving", CaseStart("C-2", "hukou.birth"), T0, "serving", [], Refusal.CASE_STILL_OPEN),
    ("serving", CaseEnd(), T0, "rating", ["case.ended"], None),
    ("serving", CaseEnd("C-1"), T0, "rating", ["case.ended"], None),
    ("serving", CaseEnd("C-9"), T0, "serving", [], Refusal.NOT_THE_OPEN_CASE),
    ("serving", SignIn("000002"), T0, "serving", [], Refusal.SIGN_IN_MID_CASE),
    ("serving", SignOut(), T0, "serving", [], Refusal.SIGN_OUT_MID_CASE),
    ("serving", MirrorField("phone", "电话", "138"), T0, "serving", [], None),
    ("serving", MirrorAnswer("name", True), T0, "serving", ["mirror.confirmed"], None),
    ("serving", MirrorAnswer("name", False), T0, "serving", ["mirror.flagged"], None),
    ("serving", MirrorAnswer("nope", True), T0, "serving", [], Refusal.NO_FIELD),
    ("serving", AwaySet("开会", "10:30"), T0, "serving", [], Refusal.END_CASE_FIRST),
    ("serving", AwayClear(), T0, "serving", [], Refusal.NOT_AWAY),
    ("serving", Tick(LATE), LATE, "serving", [], None),
    ("serving", RatingExtras("C-1"), T0, "serving", [], Refusal.NO_DETAILS_DUE),
    ("serving", SHOW, T0, "serving", ["document.shown"], None),
    ("serving", ShowDocument(doc("C-9")), T0, "serving", [], Refusal.DOCUMENT_OTHER_CASE),
    ("serving", CONFIRM, T0, "serving", [], Refusal.NO_DOCUMENT),
    ("serving", MOVE, T0, "serving", ["promise.changed"], None),
    ("serving_doc", CONFIRM, T0, "serving", ["document.issued"], None),
    ("serving_doc", SHOW, T0, "serving", ["document.withdrawn", "document.shown"], None),
    ("serving_doc", CaseEnd(), T0, "rating", ["document.withdrawn", "case.ended"], None),
    # ---------------------------------------------------------------- rating
    ("rating", R, T0, "idle", ["rating.given"], None),
    ("rating", Press("away"), T0, "rating", [], None),  # deferred: see test below
    ("rating", Press("next"), T0, "rating", [], Refusal.WAITING_FOR_RATING),
    ("rating", CaseStart("C-2", "hukou.birth"), T0, "serving",
     ["rating.skipped", "case.started"], None),
    ("rating", CaseStart("C-1", "hukou.birth"), T0, "rating", [], Refusal.CASE_STARTED),
    ("rating", CaseEnd(), T0, "rating", [], Refusal.NO_CASE_TO_END),
    ("rating", SignIn("000002"), T0, "rating", [], Refusal.SIGN_IN_MID_CASE),
    ("rating", SignOut(), T0, "rating", [], Refusal.SIGN_OUT_MID_CASE),
    ("rating", MirrorField("name", "姓名", "x"), T0, "rating", [], Refusal.FIELD_NEEDS_CASE),
    ("rating", MirrorAnswer("name", True), T0, "rating", [], Refusal.ANSWER_NEEDS_CASE),
    ("rating", AwaySet("开会", "10:30"), T0, "rating", [], Refusal.AWAY_AFTER_RATING),
    ("rating", AwayClear(), T0, "rating", [], Refusal.NOT_AWAY),
    ("rating", Tick(T0 + 1), T0 + 1, "rating", [], None),
    ("rating", Tick(LATE), LATE, "idle", ["rating.skipped"], None),
    ("rating", RatingExtras("C-1"), T0, "rating", [], Refusal.NO_DETAILS_DUE),
    ("rating", SHOW, T0, "rating", [], Refusal.DOCUMENT_NEEDS_CASE),
    ("rating", CONFIRM, T0, "rating", [], Refusal.NO_DOCUMENT),
    ("rating", MOVE, T0, "rating", ["promise.changed"], None),
    ("rating_away", R, T0, "away", ["rating.given", "away.started"], None),
    ("rating_away", Tick(LATE), LATE, "away", ["rating.skipped", "away.started"], None),
    ("rating_away", CaseStart("C-2", "hukou.birth"), T0, "serving",
     ["rating.skipped", "case.started"], None),
    ("rating_away", Press("away"), T0, "rating", [], None),  # toggles the deferral off
    # ---------------------------------------------------------------- away
    ("away", R, T0, "away", [], Refusal.AWAY),
    ("away", Press("away"), T0, "idle", ["away.ended"], None),
    ("away", Press("next"), T0, "away", [], Refusal.COME_BACK_FIRST),
    ("away", CaseStart("C-2", "hukou.birth"), T0, "serving", ["away.ended", "case.started"], None),
    ("away", CaseEnd(), T0, "away", [], Refusal.NO_CASE_TO_END),
    ("away", SignIn("000002"), T0, "away", ["officer.signed_out", "officer.signed_in"], None),
    ("away", SignOut(), T0, "away", ["officer.signed_out"], None),
    ("away", MirrorField("name", "姓名", "x"), T0, "away", [], Refusal.FIELD_NEEDS_CASE),
    ("away", MirrorAnswer("name", True), T0, "away", [], Refusal.ANSWER_NEEDS_CASE),
    ("away", AwaySet("开会", "10:30"), T0, "away", ["away.ended", "away.started"], None),
    ("away", AwayClear(), T0, "idle", ["away.ended"], None),
    ("away", Tick(LATE), LATE, "away", [], None),
    ("away", RatingExtras("C-1"), T0, "away", [], Refusal.NO_DETAILS_DUE),
    ("away", SHOW, T0, "away", [], Refusal.DOCUMENT_NEEDS_CASE),
    ("away", CONFIRM, T0, "away", [], Refusal.NO_DOCUMENT),
    ("away", MOVE, T0, "away", ["promise.changed"], None),
]


@pytest.mark.parametrize(
    ("start", "intent", "now", "mode", "events", "refused"), CELLS,
    ids=[f"{c[0]}-{type(c[1]).__name__}{'-' + c[1].button if isinstance(c[1], Press) else ''}"
         f"-{i}" for i, c in enumerate(CELLS)])
def test_cell(start: str, intent: Intent, now: float, mode: str, events: list[str],
              refused: Refusal | None) -> None:
    c = counter_in(start)
    before = c.state
    check_cell(c, before, c.handle(intent, now), mode, events, refused)


def check_cell(c: Counter, before: Snapshot, t: Transition, mode: str, events: list[str],
               refused: Refusal | None) -> None:
    """One cell of the table: the mode after, the event types; a refusal changes nothing."""
    assert t.after.mode == Mode(mode)
    assert c.state.mode == Mode(mode)
    assert types(t) == events
    if refused:
        assert t.refused is refused
        assert c.state == before and c.state.mirror == before.mirror  # refused: no change
    else:
        assert not t.refused


def test_every_mode_and_input_kind_has_a_cell() -> None:
    # Every input the counter handles: a new one fails here until its cells exist.
    kinds = {Press, *counter_module._HANDLERS}
    for mode in ("idle", "serving", "rating", "away"):
        covered = {type(c[1]) for c in CELLS if c[0] == mode}
        assert covered == kinds, (mode, kinds - covered)
        buttons = {c[1].button for c in CELLS if c[0] == mode and isinstance(c[1], Press)}
        assert buttons == {"satisfied", "away", "next"}, mode


# ------------------------------------------------------------------ event contents


def test_rating_given_carries_the_level_and_the_case() -> None:
    c = counter_in("rating")
    t = c.handle(Press("very_unsatisfied"), T0 + 5)
    (d,) = t.drafts
    assert d.type is EventType.RATING_GIVEN
    assert dict(d.data) == {"case_no": "C-1", "service": "id_card.renew", "officer": "000001",
                            "level": "very_unsatisfied", "score": 1, "label": "非常不满意",
                            "unsatisfied": True, "source": "pad"}
    assert c.state.rated_case == "C-1" and c.state.case_no == ""


@pytest.mark.parametrize("level", list(RatingLevel))
def test_every_level_is_a_rating(level: RatingLevel) -> None:
    c = counter_in("rating")
    t = c.handle(Press(level.value), T0)
    assert types(t) == ["rating.given"]
    assert t.drafts[0].data["level"] == level.value
    assert t.drafts[0].data["score"] == {"very_satisfied": 5, "satisfied": 4, "basic": 3,
                                         "unsatisfied": 2, "very_unsatisfied": 1}[level.value]


def test_a_refusal_names_what_it_refers_to() -> None:
    # The workstation's reply (the link's "error") says which case was not the open one.
    t = counter_in("serving").handle(CaseEnd("C-9"), T0)
    assert t.refused is Refusal.NOT_THE_OPEN_CASE
    assert t.reason == "case C-9 is not the open case (C-1)"
    assert counter_in("serving").handle(CaseEnd(), T0).reason == ""  # taken: no reason


def test_unknown_button_is_refused() -> None:
    c = counter_in("rating")
    t = c.handle(Press("excellent"), T0)
    assert t.refused is Refusal.UNKNOWN_BUTTON and c.state.mode is Mode.RATING
    assert t.reason == "unknown button 'excellent'"  # the workstation is told which


def test_case_ended_reports_duration_and_flag_count() -> None:
    c = counter_in("serving")
    c.handle(MirrorAnswer("name", False), T0 + 10)
    t = c.handle(CaseEnd(), T0 + 125)
    (d,) = t.drafts
    assert d.data["duration_s"] == 125.0 and d.data["mirror_flags"] == 1
    assert c.state.rating_deadline == T0 + 125 + SETTINGS.rating_s


def test_timeout_skips_with_reason() -> None:
    c = counter_in("rating")
    t = c.handle(Tick(LATE), LATE)
    assert t.drafts[0].data["reason"] == "timeout" and t.drafts[0].data["case_no"] == "C-1"
    t = c.handle(CaseStart("C-2", "a.b"), LATE)
    assert t.drafts[0].type is EventType.CASE_STARTED  # nothing left to skip


def test_next_case_while_rating_skips_with_reason() -> None:
    c = counter_in("rating")
    t = c.handle(CaseStart("C-2", "hukou.birth"), T0)
    assert t.drafts[0].data == {"case_no": "C-1", "service": "id_card.renew",
                                "officer": "000001", "reason": "next_case"}
    assert t.drafts[1].data["case_no"] == "C-2"


def test_standalone_next_numbers_cases_per_device_and_day() -> None:
    c = Counter(SETTINGS)
    numbers = []
    for _ in range(3):
        numbers.append(c.handle(Press("next"), T0).drafts[0].data["case_no"])
        c.handle(Press("next"), T0)
        c.handle(Press("basic"), T0)
    assert numbers == ["w01-20261126-0001", "w01-20261126-0002", "w01-20261126-0003"]


def test_away_during_rating_is_deferred_until_the_rating() -> None:
    c = counter_in("rating")
    t = c.handle(Press("away"), T0)
    assert t.drafts == () and c.state.away_after_rating and t.persist
    t = c.handle(Press("basic"), T0 + 3)
    assert types(t) == ["rating.given", "away.started"]
    assert c.state.mode is Mode.AWAY and not c.state.away_after_rating


def test_away_button_uses_configured_reason_return_and_backup() -> None:
    c = Counter(SETTINGS)
    t = c.handle(Press("away"), T0)
    assert dict(t.drafts[0].data) == {
        "officer": "000001", "reason": "临时离开", "return_at": "2026-11-26T09:15:00+08:00",
        "backup": "000002; window 2"}
    assert c.state.away is not None and c.state.away.phone == "0755-8000 0001"
    t = c.handle(Press("away"), T0 + 600)
    assert dict(t.drafts[0].data) == {"officer": "000001", "reason": "临时离开",
                                      "duration_s": 600.0}


@pytest.mark.parametrize(("text", "expected"), [
    ("10:30", "2026-11-26T10:30:00+08:00"),  # later today
    ("08:00", "2026-11-27T08:00:00+08:00"),  # already past: tomorrow
    ("2026-11-26T11:00", "2026-11-26T11:00:00+08:00"),  # naive: the counter's zone
    ("2026-11-26T03:00:00Z", "2026-11-26T11:00:00+08:00"),
])
def test_away_set_return_time(text: str, expected: str) -> None:
    c = Counter(SETTINGS)
    t = c.handle(AwaySet("开会", text, "110", "window 3"), T0)
    assert t.drafts[0].data["return_at"] == expected
    assert c.state.away is not None
    assert (c.state.away.phone, c.state.away.backup) == ("110", "window 3")


@pytest.mark.parametrize("text", ["25:00", "tomorrow", "10:3", ""])
def test_away_set_bad_return_time_is_refused(text: str) -> None:
    c = Counter(SETTINGS)
    t = c.handle(AwaySet("开会", text), T0)
    assert t.refused is Refusal.BAD_RETURN_AT and c.state.mode is Mode.IDLE
    assert "must be HH:MM or an ISO 8601 time" in t.reason


@pytest.mark.parametrize(("case_no", "service", "problem"), [
    ("C 1", "a.b", Refusal.BAD_CASE_NO), ("", "a.b", Refusal.BAD_CASE_NO),
    ("x" * 41, "a.b", Refusal.BAD_CASE_NO),
    ("C-1", "Bad Service", Refusal.BAD_SERVICE), ("C-1", "", Refusal.BAD_SERVICE),
])
def test_bad_case_numbers_and_services_are_refused(case_no: str, service: str,
                                                   problem: Refusal) -> None:
    c = Counter(SETTINGS)
    t = c.handle(CaseStart(case_no, service), T0)
    assert t.refused is problem and c.state.mode is Mode.IDLE


def test_rating_details_once_per_case() -> None:
    c = counter_in("idle_unsatisfied")
    t = c.handle(RatingExtras("C-1", ("态度", "等待久"), "13800138000"), T0)
    assert dict(t.drafts[0].data) == {"case_no": "C-1", "reasons": ["态度", "等待久"],
                                      "callback_requested": True,
                                      "callback_phone": "13800138000"}
    t = c.handle(RatingExtras("C-1", ("态度",)), T0)
    assert t.refused is Refusal.DETAILS_SENT and t.drafts == ()
    assert "13800138000" not in json.dumps(c.state.persistable())


def test_mirror_correction_needs_confirming_again() -> None:
    c = counter_in("serving")
    c.handle(MirrorAnswer("name", True), T0)
    t = c.handle(MirrorAnswer("name", True), T0)
    assert t.refused is Refusal.FIELD_ANSWERED
    assert t.reason == "field 'name' is already confirmed"
    c.handle(MirrorField("name", "姓名", "张三"), T0)
    entry = next(m for m in c.state.mirror if m.key == "name")
    assert (entry.value, entry.status) == ("张三", "pending")
    t = c.handle(MirrorAnswer("name", True), T0)
    assert types(t) == ["mirror.confirmed"]
    assert dict(t.drafts[0].data) == {"case_no": "C-1", "field": "name",
                                      "service": "id_card.renew", "officer": "000001"}


def test_mirror_is_cleared_when_the_case_ends() -> None:
    c = counter_in("serving")
    assert len(c.state.mirror) == 2
    c.handle(CaseEnd(), T0)
    assert c.state.mirror == ()


# ------------------------------------------------------------------ one rating per case


def test_press_after_a_skipped_case_is_not_called_already_rated() -> None:
    c = counter_in("idle_rated")
    for intent in (CaseStart("C-2", "a.b"), CaseEnd()):
        c.handle(intent, T0)
    c.handle(Tick(LATE), LATE)  # C-2 skipped
    assert c.handle(R, LATE).refused is Refusal.NO_CASE


def test_resent_case_start_of_an_earlier_case_is_refused() -> None:
    # The workstation retries case_start for C-1 after C-2: no second round for C-1.
    c = counter_in("idle_rated")
    for intent in (CaseStart("C-2", "a.b"), CaseEnd(), Press("basic")):
        assert not c.handle(intent, T0).refused
    t = c.handle(CaseStart("C-1", "a.b"), T0)
    assert t.refused is Refusal.CASE_STARTED and c.state.mode is Mode.IDLE
    assert t.reason == "case C-1 was already started"


def test_bounce_and_repeated_presses_give_one_rating() -> None:
    c = counter_in("rating")
    given = []
    for level in ["satisfied", "satisfied", "very_satisfied", "unsatisfied", "satisfied"]:
        given += [d for d in c.handle(Press(level), T0).drafts
                  if d.type is EventType.RATING_GIVEN]
    assert len(given) == 1 and given[0].data["level"] == "satisfied"
    assert c.handle(Tick(LATE), LATE).drafts == ()  # no late skip after the rating


def test_mirror_answers_carry_the_officer_and_service_of_the_case() -> None:
    # HQ files a flag under the case's officer and service (issue 9, item 7).
    c = counter_in("serving")
    c.handle(SignIn("000002"), T0)  # refused mid-case: the case stays 000001's
    flagged = c.handle(MirrorAnswer("id_number", False), T0)
    confirmed = c.handle(MirrorAnswer("name", True), T0)
    for t, etype in ((flagged, "mirror.flagged"), (confirmed, "mirror.confirmed")):
        assert types(t) == [etype]
        data = dict(t.drafts[0].data)
        assert (data["officer"], data["service"], data["case_no"]) == (
            "000001", "id_card.renew", "C-1")
        assert SECRET_ID not in json.dumps(data, ensure_ascii=False)
