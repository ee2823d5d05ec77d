"""The work order's steps as pure rules."""

from __future__ import annotations

import pytest

from hq.lifecycle import Action, Finding, Order, Refused, State, step


def test_a_valid_complaint_goes_the_whole_way() -> None:
    o = Order(State.VISIT)
    for action, kw, want in [
            (Action.VISIT, {}, State.VISITED),
            (Action.CLASSIFY, {"finding": Finding.VALID}, State.RECTIFY),
            (Action.RECTIFY, {}, State.REPLY), (Action.REPLY, {}, State.RERATE)]:
        o = step(o, action, "zhao", **kw).order
        assert o.state is want
    out = step(o, Action.RERATE, "zhao")
    assert out.closed and out.order.state is State.CLOSED and out.order.finding is Finding.VALID
    with pytest.raises(Refused, match="已办结"):
        step(out.order, Action.VISIT, "zhao")


def test_a_wrong_step_is_refused_with_the_next_one() -> None:
    with pytest.raises(Refused, match="下一步是「记录回访」"):
        step(Order(State.VISIT), Action.RECTIFY, "zhao")
    with pytest.raises(Refused, match="请选择核实结论"):
        step(Order(State.VISITED), Action.CLASSIFY, "zhao")


@pytest.mark.parametrize("finding", [Finding.MISTAKEN, Finding.MALICIOUS])
def test_a_mistaken_or_malicious_finding_needs_a_second_person(finding: Finding) -> None:
    o = step(Order(State.VISITED), Action.CLASSIFY, "zhao", finding=finding).order
    assert o.state is State.REVIEW
    with pytest.raises(Refused, match="须由另一人决定"):
        step(o, Action.REVIEW, "zhao", upheld=True)
    upheld = step(o, Action.REVIEW, "qian", upheld=True)
    assert upheld.closed and upheld.order.finding is finding
    rejected = step(o, Action.REVIEW, "qian", upheld=False).order
    assert rejected.state is State.RECTIFY and rejected.finding is Finding.VALID
