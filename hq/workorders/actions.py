"""Everything that changes a work order: one transaction each, the audit entry with it.

Views call :func:`perform`; the timer calls :func:`tick`. Who may act is checked here
too (a chief only on their station's orders), not only by the page that offers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from device.workdays import UnknownYear, WorkCalendar
from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import may_see_site, role_of
from hq.lifecycle import DEADLINE_OF, Action, Finding, Order, Refused, State, step
from hq.workorders.models import AuditEntry, DeadlineSettings, WorkOrder

# Who may take each step: the city supervisors own the process; a chief handles their
# station's orders, but the second decision of an appeal is the city's.
MAY = {Action.VISIT: {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF},
       Action.CLASSIFY: {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF},
       Action.REVIEW: {Role.ADMIN, Role.SUPERVISOR},
       Action.RECTIFY: {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF},
       Action.REPLY: {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF},
       Action.RERATE: {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF}}
# Who calls the citizen back, so sees the phone in full.
CALLS_BACK = {Role.ADMIN, Role.SUPERVISOR, Role.CHIEF}


def may_act(user: Any, order: WorkOrder, action: Action) -> bool:
    role = role_of(user)
    return role in MAY[action] and may_see_site(user, order.site)


def sees_phone(user: Any, order: WorkOrder) -> bool:
    return role_of(user) in CALLS_BACK and may_see_site(user, order.site)


def perform(order_id: str, user: Any, action: Action, note: str, *,
            finding: Finding | None = None, upheld: bool | None = None,
            using: str = "default") -> WorkOrder:
    """Take ``action``; Refused (with the reason for the page) when it may not be taken."""
    actor = user.get_username()
    with transaction.atomic(using=using):
        order = WorkOrder.objects.using(using).select_for_update().get(pk=order_id)
        if not may_act(user, order, action):
            raise Refused(f"您的角色不能「{action.label}」")
        if not note.strip():
            raise Refused("请填写说明（回访情况、核实依据、整改措施或答复内容）")
        before = order.state_enum
        out = step(Order(before, Finding(order.finding) if order.finding else None,
                         order.classified_by), action, actor, finding=finding, upheld=upheld)
        now = clock.now()
        order.state = out.order.state.value
        order.finding = out.order.finding.value if out.order.finding else ""
        order.classified_by = out.order.classified_by
        order.state_since = now
        order.escalated_at = None  # a new step starts its own deadline
        if out.closed:
            order.closed_at = now
            order.status = "closed"
        order.save(using=using)
        extra = ""
        if finding is not None:
            extra = f"（结论：{finding.label}）"
        if upheld is not None:
            extra = "（维持原结论）" if upheld else "（驳回，按有效差评整改）"
        AuditEntry.objects.using(using).create(
            order=order, at=now, actor=actor, action=action.value, from_state=before.value,
            to_state=order.state, note=note.strip()[:2000] + extra)
    return order


@dataclass(frozen=True)
class Due:
    at: datetime | None  # None: no deadline (closed) or unknown
    unknown: str = ""  # why it cannot be computed (a year nobody entered)

    def overdue(self, now: datetime) -> bool:
        return self.at is not None and now > self.at


def due(order: WorkOrder, settings: DeadlineSettings, cal: WorkCalendar) -> Due:
    state = order.state_enum
    if state is State.CLOSED or order.state_since is None:
        return Due(None)
    name = DEADLINE_OF[state]
    try:
        return Due(cal.deadline(order.state_since, settings.workdays(name)))
    except UnknownYear as exc:
        return Due(None, exc.reason)


@dataclass
class TickResult:
    escalated: list[str]
    phones_deleted: list[str]


def tick(cal: WorkCalendar, using: str = "default") -> TickResult:
    """Escalate every order past its step's deadline to the city supervisors (once per
    step), and delete the callback phones of orders closed longer ago than kept."""
    now = clock.now()
    settings = DeadlineSettings.current(using)
    res = TickResult([], [])
    for order in WorkOrder.objects.using(using).exclude(state=State.CLOSED.value).filter(
            escalated_at__isnull=True):
        if due(order, settings, cal).overdue(now):
            with transaction.atomic(using=using):
                order.escalated_at = now
                order.save(using=using, update_fields=["escalated_at"])
                AuditEntry.objects.using(using).create(
                    order=order, at=now, actor="系统", action="escalated",
                    from_state=order.state, to_state=order.state,
                    note=f"「{order.state_enum.label}」已超过时限，已上报市局督察")
            res.escalated.append(order.pk)
    cutoff = now - timedelta(days=settings.phone_keep_days)
    for order in WorkOrder.objects.using(using).filter(
            state=State.CLOSED.value, closed_at__lt=cutoff).exclude(phone=""):
        with transaction.atomic(using=using):
            order.phone = ""
            order.phone_deleted_at = now
            order.save(using=using, update_fields=["phone", "phone_deleted_at"])
            AuditEntry.objects.using(using).create(
                order=order, at=now, actor="系统", action="phone_deleted",
                from_state=order.state, to_state=order.state,
                note=f"办结满 {settings.phone_keep_days} 天，回访电话已删除")
        res.phones_deleted.append(order.pk)
    return res
