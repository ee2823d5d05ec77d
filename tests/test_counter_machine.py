"""The counter state machine under random input sequences (Hypothesis): the event stream
and the state keep their invariants, and no personal data reaches either."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

# ``do``: what the officer, the citizen or the clock does to the counter.
from device import intents as do
from device.counter import Counter, Mode, Snapshot
from device.rating import RatingLevel
from tests.conftest import T0
from tests.test_counter import SECRET_ID, SECRET_NAME, SETTINGS

MIRROR_VALUES = st.sampled_from([SECRET_NAME, SECRET_ID, "广东省深圳市福田区"])
INTENTS = st.one_of(
    st.builds(do.Press, st.sampled_from([*(lv.value for lv in RatingLevel), "away", "next"])),
    st.builds(do.CaseStart, st.sampled_from(["C-1", "C-2", "C-3", "C-4", "bad no"]),
              st.sampled_from(["id_card.renew", "hukou.birth"])),
    st.builds(do.CaseEnd, st.sampled_from([None, "C-1", "C-2"])),
    st.builds(do.SignIn, st.sampled_from(["000001", "000002"])),
    st.just(do.SignOut()),
    st.builds(do.MirrorField, st.sampled_from(["name", "id_number"]), st.just("label"),
              MIRROR_VALUES, st.booleans()),
    st.builds(do.MirrorAnswer, st.sampled_from(["name", "id_number"]), st.booleans()),
    st.builds(do.AwaySet, st.just("开会"), st.sampled_from(["10:30", "08:00", "nonsense"])),
    st.just(do.AwayClear()),
    st.builds(do.RatingExtras, st.sampled_from(["C-1", "C-2"]), st.just(("态度",))),
    st.just("tick"),
)


class CounterMachine(RuleBasedStateMachine):
    """Random input sequences; the event stream and state must keep their invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.c = Counter(SETTINGS)
        self.now = T0
        self.events: list[tuple[str, dict]] = []

    @rule(case_no=st.sampled_from(["C-1", "C-2", "C-3"]),
          last=st.sampled_from([do.Press("satisfied"), do.Press("unsatisfied"), "tick"]))
    def whole_case(self, case_no: str, last: do.Intent | str) -> None:
        # A realistic round, so case numbers come back often enough to matter.
        self.step(do.CaseStart(case_no, "id_card.renew"), 1.0)
        self.step(do.CaseEnd(), 60.0)
        self.step(last, 31.0)

    @rule(intent=INTENTS, dt=st.floats(0, 40))
    def random_input(self, intent: do.Intent | str, dt: float) -> None:
        self.step(intent, dt)

    def step(self, intent: do.Intent | str, dt: float) -> None:
        self.now += dt
        if intent == "tick":
            intent = do.Tick(self.now)
        before = self.c.state
        t = self.c.handle(intent, self.now)  # type: ignore[arg-type]
        if t.refused:
            assert t.drafts == () and self.c.state == before
        for d in t.drafts:
            self.events.append((str(d.type), dict(d.data)))
        # Personal data: never in an event, never in what is persisted.
        text = json.dumps([t.after.persistable(), [dict(d.data) for d in t.drafts]],
                          ensure_ascii=False)
        for secret in (SECRET_NAME, SECRET_ID, "广东省深圳市福田区"):
            assert secret not in text
        assert Snapshot.restore(json.loads(json.dumps(t.after.persistable()))) == t.after

    @invariant()
    def mode_is_consistent(self) -> None:
        s = self.c.state
        assert (s.away is not None) == (s.mode is Mode.AWAY)
        assert bool(s.case_no) == (s.mode in (Mode.SERVING, Mode.RATING))
        assert (s.rating_deadline > 0) == (s.mode is Mode.RATING)
        assert not s.away_after_rating or s.mode is Mode.RATING
        assert not s.mirror or s.mode is Mode.SERVING

    @invariant()
    def event_stream_is_well_formed(self) -> None:
        open_case = ""  # started, not ended
        awaiting = ""  # ended, not yet rated or skipped
        outcomes: dict[str, int] = {}
        away = False
        for etype, data in self.events:
            if etype == "case.started":
                assert not open_case and not awaiting
                open_case = data["case_no"]
            elif etype == "case.ended":
                assert data["case_no"] == open_case
                open_case, awaiting = "", data["case_no"]
            elif etype in ("rating.given", "rating.skipped"):
                assert data["case_no"] == awaiting  # only an ended case is rated
                outcomes[awaiting] = outcomes.get(awaiting, 0) + 1
                awaiting = ""
            elif etype == "away.started":
                assert not away and not open_case and not awaiting
                away = True
            elif etype == "away.ended":
                assert away
                away = False
            elif etype in ("mirror.confirmed", "mirror.flagged"):
                assert data["case_no"] == open_case
        assert all(n == 1 for n in outcomes.values())  # one rating (or skip) per case


TestCounterMachine = CounterMachine.TestCase
TestCounterMachine.settings = settings(max_examples=150, stateful_step_count=40,
                                       deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
