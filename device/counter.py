"""The counter state machine: idle -> serving -> rating -> idle, and away.

Pure and deterministic: :meth:`Counter.handle` takes an intent and the wall-clock time
and returns a :class:`Transition` (events to commit, the new state, or a refusal). It
does no I/O; :class:`device.core.Core` commits the events and then gives feedback.

What every input does in every mode is the table in docs/counter-states.md; the short
version:

=============  ==================  ===================  ==================  ===============
input          idle                serving              rating              away
=============  ==================  ===================  ==================  ===============
rating press   refused (no case)   refused (not yet)    rating.given, idle  refused
away button    away.started        refused (end case)   away after rating   away.ended
next button    case.started (auto) case.ended, rating   refused (rating)    refused
case.start     case.started        refused (open case)  skipped + started   ended + started
case.end       refused             case.ended, rating   refused             refused
tick           -                   -                    timeout: skipped    -
=============  ==================  ===================  ==================  ===============
The queue controls (recall, no_show, call, transfer) are device/counter_queue.py's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device.codes import Refusal, refusal_text
from device.counter_queue import RECENT_CASES, Call, handle_queue
from device.counter_queue import No as _No
from device.events import Draft, EventType
from device.intents import (
    QUEUE_INTENTS,
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
from device.snapshot import Away, MirrorEntry, Mode, Snapshot

# The state types live in device/snapshot.py; importing them from here keeps working.
__all__ = ["Away", "Call", "Counter", "CounterSettings", "MirrorEntry", "Mode", "Snapshot",
           "Transition"]

_CASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class Transition:
    before: Snapshot
    after: Snapshot
    drafts: tuple[Draft, ...] = ()
    refused: Refusal | None = None  # not None: nothing changed, this says why
    detail: Mapping[str, str] = field(default_factory=dict)  # what the refusal names

    @property
    def reason(self) -> str:
        """The refusal in English (journal, workstation), "" when taken."""
        return refusal_text(self.refused, self.detail) if self.refused else ""

    @property
    def persist(self) -> bool:
        """Whether the persisted part of the state changed."""
        return self.before.persistable() != self.after.persistable()


@dataclass(frozen=True)
class CounterSettings:
    device: str
    rating_s: float
    timezone: str
    on_duty: str
    away_reason: str
    away_minutes: int
    # The roster's phone numbers (badge, phone): the away board shows the phone of the
    # officer who is signed in when they leave, not of the one configured at start-up.
    phones: tuple[tuple[str, str], ...] = ()
    # Backup officers in order of preference (staff.backup, then staff.on_duty): the first
    # one who is not the absent officer is named on the board.
    backups: tuple[str, ...] = ()
    backup_window: int = 0

    def away_contact(self, officer: str) -> tuple[str, str]:
        """(phone, backup) for the away board when ``officer`` leaves; the backup is
        "BADGE", "BADGE; window N" or "window N", never the absent officer."""
        phone = dict(self.phones).get(officer, "") if officer else ""
        parts = [next((b for b in self.backups if b and b != officer), "")]
        if self.backup_window:
            parts.append(f"window {self.backup_window}")
        return phone, "; ".join(p for p in parts if p)


class Counter:
    def __init__(self, settings: CounterSettings, state: Snapshot | None = None) -> None:
        self.settings = settings
        self.state = state or Snapshot(officer=settings.on_duty)
        self._tz = ZoneInfo(settings.timezone)

    # ------------------------------------------------------------------ entry point

    def handle(self, intent: Intent, now: float, call: Call | None = None) -> Transition:
        """``call``: the ticket a next press in idle calls or a queue control acts on."""
        before = self.state
        if isinstance(intent, Press):
            result = self._press(intent, now, call)
        elif isinstance(intent, QUEUE_INTENTS):
            result = handle_queue(self, intent, now, call)
        else:
            result = _HANDLERS[type(intent)](self, intent, now)
        if isinstance(result, _No):
            return Transition(before, before, (), refused=result.code, detail=result.detail)
        after, drafts = result
        self.state = after
        return Transition(before, after, tuple(drafts))

    # ------------------------------------------------------------------ helpers

    def _day(self, now: float) -> str:
        return datetime.fromtimestamp(now, self._tz).strftime("%Y-%m-%d")

    def _iso(self, now: float) -> str:
        return datetime.fromtimestamp(now, self._tz).isoformat(timespec="seconds")

    def _case_data(self, s: Snapshot, **extra: Any) -> dict[str, Any]:
        return {"case_no": s.case_no, "service": s.service, "officer": s.officer, **extra}

    def _start_case(self, s: Snapshot, case_no: str, service: str, now: float,
                    drafts: list[Draft], call: Call | None = None) -> Snapshot:
        s = dataclasses.replace(s, mode=Mode.SERVING, case_no=case_no, service=service,
                                case_started=self._iso(now), mirror=(), rating_deadline=0.0,
                                ticket=call.number if call else "",
                                ticket_day=call.day if call else "")
        drafts.append(Draft(EventType.CASE_STARTED, self._case_data(s, ticket=s.ticket)))
        return s

    def _end_case(self, s: Snapshot, now: float, drafts: list[Draft]) -> Snapshot:
        started = datetime.fromisoformat(s.case_started).timestamp() if s.case_started else now
        drafts.append(Draft(EventType.CASE_ENDED, self._case_data(
            s, ticket=s.ticket, duration_s=round(max(0.0, now - started), 1),
            mirror_flags=sum(1 for m in s.mirror if m.status == "flagged"))))
        if s.document is not None:  # shown, never confirmed: it did not print
            drafts.insert(-1, Draft(EventType.DOCUMENT_WITHDRAWN, dict(s.document.record)))
        # The ticket was served: nothing says "正在办理 A003" any more.
        return dataclasses.replace(s, mode=Mode.RATING, mirror=(), document=None, ticket="",
                                   ticket_day="",
                                   rating_deadline=now + self.settings.rating_s,
                                   recent_cases=(*s.recent_cases, s.case_no)[-RECENT_CASES:])

    def _leave_rating(self, s: Snapshot, now: float, drafts: list[Draft]) -> Snapshot:
        s = dataclasses.replace(s, mode=Mode.IDLE, rating_deadline=0.0, case_no="",
                                service="", case_started="")
        if s.away_after_rating:
            s = self._go_away(s, None, now, drafts)
        return s

    def _skip_rating(self, s: Snapshot, reason: str, now: float, drafts: list[Draft]) -> Snapshot:
        drafts.append(Draft(EventType.RATING_SKIPPED, self._case_data(s, reason=reason)))
        return self._leave_rating(s, now, drafts)

    def _go_away(self, s: Snapshot, req: AwaySet | None, now: float,
                 drafts: list[Draft]) -> Snapshot:
        st = self.settings
        phone, backup = st.away_contact(s.officer)
        if req is None:
            req = AwaySet(st.away_reason, self._iso(now + st.away_minutes * 60))
        away = Away(reason=req.reason, return_at=self._return_at(req.return_at, now),
                    phone=req.phone or phone, backup=req.backup or backup,
                    since=self._iso(now))
        drafts.append(Draft(EventType.AWAY_STARTED, {
            "officer": s.officer, "reason": away.reason, "return_at": away.return_at,
            "backup": away.backup}))
        return dataclasses.replace(s, mode=Mode.AWAY, away=away, away_after_rating=False)

    def _return_at(self, text: str, now: float) -> str:
        """"HH:MM" means today (or tomorrow, if already past) in the counter's time zone."""
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
        if m:
            local = datetime.fromtimestamp(now, self._tz)
            at = local.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0,
                               microsecond=0)
            if at < local:
                at += timedelta(days=1)
            return at.isoformat(timespec="seconds")
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:  # a workstation's local time means the counter's zone
            at = at.replace(tzinfo=self._tz)
        return at.astimezone(self._tz).isoformat(timespec="seconds")

    def _come_back(self, s: Snapshot, now: float, drafts: list[Draft]) -> Snapshot:
        assert s.away is not None
        since = datetime.fromisoformat(s.away.since).timestamp()
        drafts.append(Draft(EventType.AWAY_ENDED, {
            "officer": s.officer, "reason": s.away.reason,
            "duration_s": round(max(0.0, now - since), 1)}))
        return dataclasses.replace(s, mode=Mode.IDLE, away=None)

    # ------------------------------------------------------------------ handlers
    # Each returns (new state, drafts) or a _No: why it was refused.

    def _press(self, p: Press, now: float,
               call: Call | None = None) -> tuple[Snapshot, list[Draft]] | _No:
        if p.button == "away":
            return self._away_button(now)
        if p.button == "next":
            return self._next_button(now, call)
        try:
            level = RatingLevel(p.button)
        except ValueError:
            return _No(Refusal.UNKNOWN_BUTTON, button=p.button)
        s = self.state
        if s.mode is not Mode.RATING:
            if s.mode is Mode.IDLE and s.rated_case and s.recent_cases[-1:] == (s.rated_case,):
                # The last case was rated (not skipped): a late or repeated press.
                return _No(Refusal.RATED, case_no=s.rated_case)
            return _No({Mode.IDLE: Refusal.NO_CASE, Mode.SERVING: Refusal.NOT_YET,
                        Mode.AWAY: Refusal.AWAY}[s.mode])
        drafts = [Draft(EventType.RATING_GIVEN, self._case_data(
            s, level=level.value, score=level.score, label=level.label,
            unsatisfied=level.unsatisfied, source=p.source))]
        s = dataclasses.replace(s, rated_case=s.case_no, last_rating=level.value)
        return self._leave_rating(s, now, drafts), drafts

    def _away_button(self, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        drafts: list[Draft] = []
        if s.mode is Mode.AWAY:
            return self._come_back(s, now, drafts), drafts
        if s.mode is Mode.SERVING:
            return _No(Refusal.END_CASE_FIRST)
        if s.mode is Mode.RATING:
            # The citizen may still rate; the board goes up as soon as they do.
            return dataclasses.replace(s, away_after_rating=not s.away_after_rating), drafts
        return self._go_away(s, None, now, drafts), drafts

    def _next_button(self, now: float,
                     call: Call | None = None) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        drafts: list[Draft] = []
        if s.mode is Mode.SERVING:
            return self._end_case(s, now, drafts), drafts
        if s.mode is Mode.IDLE:
            # Standalone counter (no workstation link): number the case ourselves.
            n = s.auto_case_counter + 1
            day = datetime.fromtimestamp(now, self._tz).strftime("%Y%m%d")
            case_no = f"{self.settings.device}-{day}-{n:04d}"
            s = dataclasses.replace(s, auto_case_counter=n)
            # A called ticket brings its service; with nobody waiting it is a walk-in.
            service = call.service if call else "walk_in"
            return self._start_case(s, case_no, service, now, drafts, call), drafts
        if s.mode is Mode.RATING:
            return _No(Refusal.WAITING_FOR_RATING)
        return _No(Refusal.COME_BACK_FIRST)

    def _sign_in(self, i: SignIn, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode in (Mode.SERVING, Mode.RATING):
            return _No(Refusal.SIGN_IN_MID_CASE, case_no=s.case_no)
        if s.officer == i.badge:
            return _No(Refusal.SIGNED_IN, badge=i.badge)
        drafts: list[Draft] = []
        if s.officer:
            drafts.append(Draft(EventType.OFFICER_SIGNED_OUT, {"officer": s.officer}))
        drafts.append(Draft(EventType.OFFICER_SIGNED_IN, {"officer": i.badge}))
        return dataclasses.replace(s, officer=i.badge), drafts

    def _sign_out(self, i: SignOut, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if not s.officer:
            return _No(Refusal.NO_OFFICER)
        if s.mode in (Mode.SERVING, Mode.RATING):
            return _No(Refusal.SIGN_OUT_MID_CASE, case_no=s.case_no)
        drafts = [Draft(EventType.OFFICER_SIGNED_OUT, {"officer": s.officer})]
        return dataclasses.replace(s, officer=""), drafts

    def _case_start(self, i: CaseStart, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        if not _CASE_RE.match(i.case_no):
            return _No(Refusal.BAD_CASE_NO, case_no=i.case_no)
        if not _SERVICE_RE.match(i.service):
            return _No(Refusal.BAD_SERVICE, service=i.service)
        s = self.state
        drafts: list[Draft] = []
        if s.mode is Mode.SERVING:
            return _No(Refusal.CASE_STILL_OPEN, case_no=s.case_no)
        if i.case_no == s.case_no or i.case_no in s.recent_cases:
            return _No(Refusal.CASE_STARTED, case_no=i.case_no)
        if s.mode is Mode.RATING:
            # A new case means the officer is at the counter: a deferred away is dropped
            # rather than recorded as an away of zero seconds.
            s = dataclasses.replace(s, away_after_rating=False)
            s = self._skip_rating(s, "next_case", now, drafts)
        if s.mode is Mode.AWAY:
            s = self._come_back(s, now, drafts)
        return self._start_case(s, i.case_no, i.service, now, drafts), drafts

    def _case_end(self, i: CaseEnd, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.SERVING:
            return _No(Refusal.NO_CASE_TO_END)
        if i.case_no is not None and i.case_no != s.case_no:
            return _No(Refusal.NOT_THE_OPEN_CASE, case_no=i.case_no, open_case=s.case_no)
        drafts: list[Draft] = []
        return self._end_case(s, now, drafts), drafts

    def _mirror_field(self, i: MirrorField, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.SERVING:
            return _No(Refusal.FIELD_NEEDS_CASE)
        entry = MirrorEntry(i.key, i.label, i.value, i.sensitive)
        others = tuple(m for m in s.mirror if m.key != i.key)
        # A corrected value replaces the old one and needs confirming again.
        return dataclasses.replace(s, mirror=(*others, entry)), []

    def _mirror_answer(self, i: MirrorAnswer, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.SERVING:
            return _No(Refusal.ANSWER_NEEDS_CASE)
        entry = next((m for m in s.mirror if m.key == i.key), None)
        if entry is None:
            return _No(Refusal.NO_FIELD, key=i.key)
        status = "confirmed" if i.ok else "flagged"
        if entry.status == status:
            return _No(Refusal.FIELD_ANSWERED, key=i.key, status=status)
        mirror = tuple(dataclasses.replace(m, status=status) if m.key == i.key else m
                       for m in s.mirror)
        etype = EventType.MIRROR_CONFIRMED if i.ok else EventType.MIRROR_FLAGGED
        # The key ("id_number") goes out, never the value.
        # The officer and service go with it, so HQ counts the flag where the case is.
        drafts = [Draft(etype, self._case_data(s, field=i.key))]
        return dataclasses.replace(s, mirror=mirror), drafts

    def _show_document(self, i: ShowDocument, now: float
                       ) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.SERVING:
            return _No(Refusal.DOCUMENT_NEEDS_CASE)
        if i.document.case_no != s.case_no:  # made outside the lock: the case moved on
            return _No(Refusal.DOCUMENT_OTHER_CASE, case_no=i.document.case_no,
                       open_case=s.case_no)
        drafts: list[Draft] = []
        if s.document is not None:  # a corrected document replaces the unconfirmed one
            drafts.append(Draft(EventType.DOCUMENT_WITHDRAWN, dict(s.document.record)))
        drafts.append(Draft(EventType.DOCUMENT_SHOWN, dict(i.document.record)))
        return dataclasses.replace(s, document=i.document), drafts

    def _confirm_document(self, i: ConfirmDocument, now: float
                          ) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.SERVING or s.document is None:
            return _No(Refusal.NO_DOCUMENT)
        # The core prints the document this commit issues (its job in the same commit).
        drafts = [Draft(EventType.DOCUMENT_ISSUED, dict(s.document.record))]
        return dataclasses.replace(s, document=None), drafts

    def _promise_change(self, i: PromiseChange, now: float
                        ) -> tuple[Snapshot, list[Draft]] | _No:
        # Any mode: the case ended long ago; the officer records the new date when they
        # learn it will be missed (the date and the reason were checked by the link).
        s = self.state
        drafts = [Draft(EventType.PROMISE_CHANGED, {
            "case_no": i.case_no, "new_date": i.new_date, "reason": i.reason,
            "officer": s.officer})]
        return s, drafts

    def _away_set(self, i: AwaySet, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is Mode.SERVING:
            return _No(Refusal.END_CASE_FIRST)
        if s.mode is Mode.RATING:
            return _No(Refusal.AWAY_AFTER_RATING)
        try:
            self._return_at(i.return_at, now)
        except ValueError:
            return _No(Refusal.BAD_RETURN_AT, return_at=i.return_at)
        if s.officer and i.backup.split(";")[0].strip() == s.officer:
            return _No(Refusal.BACKUP_IS_ABSENT, officer=s.officer)
        drafts: list[Draft] = []
        if s.mode is Mode.AWAY:
            s = self._come_back(s, now, drafts)
        return self._go_away(s, i, now, drafts), drafts

    def _away_clear(self, i: AwayClear, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is not Mode.AWAY:
            return _No(Refusal.NOT_AWAY)
        drafts: list[Draft] = []
        return self._come_back(s, now, drafts), drafts

    def _tick(self, t: Tick, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if s.mode is Mode.RATING and now >= s.rating_deadline:
            drafts: list[Draft] = []
            return self._skip_rating(s, "timeout", now, drafts), drafts
        if s.ticket and s.ticket_day != self._day(now):
            # Midnight: yesterday's number is no longer "being served" (no event; the
            # case itself stays open).
            return dataclasses.replace(s, ticket="", ticket_day=""), []
        return s, []  # nothing to do: no change, so Core tells nobody (a silent no-op)

    def _rating_extras(self, i: RatingExtras, now: float) -> tuple[Snapshot, list[Draft]] | _No:
        s = self.state
        if i.case_no != s.rated_case or s.last_rating not in (
                RatingLevel.UNSATISFIED, RatingLevel.VERY_UNSATISFIED):
            return _No(Refusal.NO_DETAILS_DUE, case_no=i.case_no)
        if s.detailed_case == i.case_no:
            # One set of details per case, like the rating itself (a double tap on the
            # screen's send button must not open two work orders at HQ).
            return _No(Refusal.DETAILS_SENT, case_no=i.case_no)
        drafts = [Draft(EventType.RATING_DETAILS, {
            "case_no": i.case_no, "reasons": list(i.reasons),
            "callback_requested": bool(i.callback_phone),
            # The citizen typed it so HQ can call back: the one personal datum we send,
            # by their choice. It is not kept in the counter's state.
            "callback_phone": i.callback_phone})]
        return dataclasses.replace(s, detailed_case=i.case_no), drafts


_HANDLERS: dict[type, Any] = {
    Press: Counter._press,
    SignIn: Counter._sign_in,
    SignOut: Counter._sign_out,
    CaseStart: Counter._case_start,
    CaseEnd: Counter._case_end,
    MirrorField: Counter._mirror_field,
    MirrorAnswer: Counter._mirror_answer,
    AwaySet: Counter._away_set,
    AwayClear: Counter._away_clear,
    Tick: Counter._tick,
    RatingExtras: Counter._rating_extras,
    ShowDocument: Counter._show_document,
    ConfirmDocument: Counter._confirm_document,
    PromiseChange: Counter._promise_change,
}
