"""The 差评 work order's steps, as pure rules (no Django; an import contract checks it).

待回访 → 已回访 → 核实 (有效 / 误评 / 恶意) → 整改 → 答复 → 群众再评价 → 办结. A 误评 or 恶意
finding goes to 申诉复核, where a second person decides: upheld closes the order with
that finding; rejected sends it to 整改 as 有效. :func:`step` is the only way a state
changes; it refuses a wrong step with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    VISIT = "visit"  # 待回访
    VISITED = "visited"  # 已回访
    REVIEW = "review"  # 申诉复核
    RECTIFY = "rectify"  # 整改
    REPLY = "reply"  # 答复
    RERATE = "rerate"  # 群众再评价
    CLOSED = "closed"  # 办结

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {State.VISIT: "待回访", State.VISITED: "已回访（待核实）",
                State.REVIEW: "申诉复核", State.RECTIFY: "整改", State.REPLY: "答复",
                State.RERATE: "群众再评价", State.CLOSED: "办结"}


class Finding(StrEnum):
    VALID = "valid"  # 有效
    MISTAKEN = "mistaken"  # 误评
    MALICIOUS = "malicious"  # 恶意

    @property
    def label(self) -> str:
        return {Finding.VALID: "有效", Finding.MISTAKEN: "误评", Finding.MALICIOUS: "恶意"}[self]


class Action(StrEnum):
    VISIT = "visit"  # 记录回访
    CLASSIFY = "classify"  # 核实定性
    REVIEW = "review"  # 申诉复核决定
    RECTIFY = "rectify"  # 记录整改
    REPLY = "reply"  # 记录答复
    RERATE = "rerate"  # 记录群众再评价（办结）

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {Action.VISIT: "记录回访", Action.CLASSIFY: "核实定性",
                 Action.REVIEW: "申诉复核决定", Action.RECTIFY: "记录整改",
                 Action.REPLY: "记录答复", Action.RERATE: "记录群众再评价并办结"}

# Which action each state awaits.
AWAITS = {State.VISIT: Action.VISIT, State.VISITED: Action.CLASSIFY,
          State.REVIEW: Action.REVIEW, State.RECTIFY: Action.RECTIFY,
          State.REPLY: Action.REPLY, State.RERATE: Action.RERATE}


class Refused(Exception):
    """A step the work order cannot take now; the message says why (for the page)."""


@dataclass(frozen=True)
class Order:
    state: State
    finding: Finding | None = None
    classified_by: str = ""


@dataclass(frozen=True)
class Outcome:
    order: Order
    closed: bool = False


def step(order: Order, action: Action, actor: str, *, finding: Finding | None = None,
         upheld: bool | None = None) -> Outcome:
    """The order after ``actor`` takes ``action``; Refused when it may not."""
    wanted = AWAITS.get(order.state)
    if wanted is None:
        raise Refused("工单已办结，不能再操作")
    if action is not wanted:
        raise Refused(f"工单处于「{order.state.label}」，下一步是「{wanted.label}」，"
                      f"不能「{action.label}」")
    if action is Action.VISIT:
        return Outcome(Order(State.VISITED))
    if action is Action.CLASSIFY:
        if finding is None:
            raise Refused("请选择核实结论：有效、误评或恶意")
        if finding is Finding.VALID:
            return Outcome(Order(State.RECTIFY, finding, actor))
        return Outcome(Order(State.REVIEW, finding, actor))
    if action is Action.REVIEW:
        if upheld is None:
            raise Refused("请选择复核决定：维持或驳回")
        if actor == order.classified_by:
            raise Refused("申诉复核须由另一人决定：定性的人不能复核自己的结论")
        if upheld:
            return Outcome(Order(State.CLOSED, order.finding, order.classified_by), closed=True)
        return Outcome(Order(State.RECTIFY, Finding.VALID, order.classified_by))
    if action is Action.RECTIFY:
        return Outcome(Order(State.REPLY, order.finding, order.classified_by))
    if action is Action.REPLY:
        return Outcome(Order(State.RERATE, order.finding, order.classified_by))
    return Outcome(Order(State.CLOSED, order.finding, order.classified_by), closed=True)


# Which deadline each open state runs against: (setting name, counted from).
DEADLINE_OF = {State.VISIT: "visit", State.VISITED: "classify", State.REVIEW: "review",
               State.RECTIFY: "rectify", State.REPLY: "reply", State.RERATE: "rerate"}
DEFAULT_WORKDAYS = {"visit": 1, "classify": 3, "review": 5, "rectify": 15, "reply": 2,
                    "rerate": 5}
