"""Work orders at ingest, their steps and audit, escalation and the phone's deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.core import Core
from device.store import Store
from hq.store import HqStore
from tests.hq.orders_support import PHONE, REASONS, very_unsatisfied_case


@pytest.fixture
def hq(tmp_path: Path) -> HqStore:
    return HqStore.open(str(tmp_path / "hq.db"))


def test_a_very_unsatisfied_rating_opens_one_order_with_reasons_and_phone(
        core: Core, store: Store, hq: HqStore) -> None:
    from hq.workorders.models import AuditEntry, WorkOrder

    case_no, journal = very_unsatisfied_case(core, store)
    res = hq.ingest(journal)
    assert [w["case_no"] for w in res.work_orders] == [case_no]
    assert all(PHONE not in str(v) for w in res.work_orders for v in w.values())
    hq.ingest(journal)  # again: nothing twice
    orders = list(WorkOrder.objects.using(hq.db.alias).all())
    assert len(orders) == 1
    o = orders[0]
    assert (o.state, o.reason_list, o.phone) == ("visit", list(REASONS), PHONE)
    assert o.masked_phone == "138****5678"
    assert [e.action for e in AuditEntry.objects.using(hq.db.alias).filter(order=o)] == [
        "opened"]
    # The phone is only in the order: not in any stored event body.
    bodies = [r[0] for r in hq.db.all("SELECT body FROM hq_events")]
    assert bodies and not any(PHONE in b for b in bodies)
    assert any('"redacted":["data.callback_phone"]' in b for b in bodies)
    # A second walk of the chain from the stored bodies still verifies every event.
    hq.reverify()
    assert hq.problems() == []
    assert hq.db.one("SELECT count(*) FROM hq_events WHERE verified = 0")[0] == 0


def test_the_audit_log_only_grows(core: Core, store: Store, hq: HqStore) -> None:
    from hq.workorders.models import AuditEntry

    hq.ingest(very_unsatisfied_case(core, store)[1])
    entry = AuditEntry.objects.using(hq.db.alias).get()
    entry.note = "changed"
    with pytest.raises(ValueError, match="never changed"):
        entry.save(using=hq.db.alias)
    with pytest.raises(ValueError, match="never deleted"):
        entry.delete()


def test_steps_escalation_and_the_phone_deleted_after_closing(
        core: Core, store: Store, hq: HqStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.contrib.auth.models import User

    from hq.accounts.users import add_user
    from hq.holidays.calendar import work_calendar
    from hq.lifecycle import Action, Finding, Refused
    from hq.workorders.actions import perform, tick
    from hq.workorders.models import AuditEntry, WorkOrder

    a = hq.db.alias
    hq.ingest(very_unsatisfied_case(core, store)[1])
    o = WorkOrder.objects.using(a).get()
    # Opened on a Wednesday morning: the return visit is due by the end of Thursday.
    WorkOrder.objects.using(a).filter(pk=o.pk).update(state_since="2026-11-25T02:00:00Z")
    add_user(a, "zhao", "supervisor", "zhao-password-1")
    add_user(a, "wang", "chief", "wang-password-1", station="other")
    zhao = User.objects.using(a).get(username="zhao")
    wang = User.objects.using(a).get(username="wang")
    cal = work_calendar(a)
    monkeypatch.setenv("KIOSK_HQ_NOW", "2026-11-26T23:00:00+08:00")
    assert tick(cal, using=a).escalated == []  # not yet due
    monkeypatch.setenv("KIOSK_HQ_NOW", "2026-11-27T00:30:00+08:00")
    assert tick(cal, using=a).escalated == [o.pk]
    assert tick(cal, using=a).escalated == []  # once per step
    with pytest.raises(Refused, match="不能"):  # another station's chief
        perform(o.pk, wang, Action.VISIT, "called", using=a)
    with pytest.raises(Refused, match="请填写说明"):
        perform(o.pk, zhao, Action.VISIT, "  ", using=a)
    for action, kw in [(Action.VISIT, {}), (Action.CLASSIFY, {"finding": Finding.VALID}),
                       (Action.RECTIFY, {}), (Action.REPLY, {}), (Action.RERATE, {})]:
        perform(o.pk, zhao, action, f"{action.label}完成", using=a, **kw)
    o.refresh_from_db(using=a)
    assert (o.state, o.status, o.phone) == ("closed", "closed", PHONE)
    assert tick(cal, using=a).phones_deleted == []  # kept for 30 days after closing
    monkeypatch.setenv("KIOSK_HQ_NOW", "2026-12-28T12:00:00+08:00")
    assert tick(cal, using=a).phones_deleted == [o.pk]
    o.refresh_from_db(using=a)
    assert o.phone == "" and o.phone_deleted_at is not None
    assert [e.action for e in AuditEntry.objects.using(a).filter(order=o)] == [
        "opened", "escalated", "visit", "classify", "rectify", "reply", "rerate",
        "phone_deleted"]
