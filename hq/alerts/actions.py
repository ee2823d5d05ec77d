"""Everything a person does to an alert: one transaction each, its record entry with it.
Who may act is checked here too (a chief only on their station's alerts), not only by
the page that offers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from device.errors import ParseError, SyncError
from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import may_see_site, role_of
from hq.alerts.models import Action, Alert, AlertEntry, Refused
from hq.alerts.notice import MAX_TEXT
from hq.alerts.texts import Kind
from hq.collector import BrokerOptions

# Who sees and acknowledges alerts, and who may push the extended-hours notice: the
# city's supervisors and the station's chief (an editor publishes content but does not
# run a hall).
HANDLERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CHIEF})

Push = Callable[[BrokerOptions, str, str, str, bytes], str]


def may_handle(user: Any, site: str) -> bool:
    return role_of(user) in HANDLERS and may_see_site(user, site)


def acknowledge(alert_id: str, user: Any, remark: str, *, using: str = "default") -> Alert:
    """未处理 → 已知悉 by ``user``, now; Refused (for the page) when it may not be."""
    with transaction.atomic(using=using):
        alert = Alert.objects.using(using).select_for_update().get(pk=alert_id)
        if not may_handle(user, alert.site):
            raise Refused("您的角色不能处理这条告警")
        if len(remark) > 500:
            raise Refused("备注不超过 500 字")
        now = clock.now()
        alert.acknowledge(user.get_username(), now, remark)
        alert.save(using=using, update_fields=["state", "acknowledged_by", "acknowledged_at",
                                               "remark"])
        AlertEntry.objects.using(using).create(alert=alert, at=now, actor=alert.acknowledged_by,
                                               action=Action.ACKNOWLEDGED.value,
                                               note=alert.remark)
    return alert


@dataclass(frozen=True)
class Pushed:
    """What a push did: the notices version published, or why not (with its fix)."""

    version: str = ""
    error: str = ""


def push_notice(alert_id: str, user: Any, text: str, until: datetime, opts: BrokerOptions,
                *, using: str = "default", push: Push | None = None) -> Pushed:
    """Put ``text`` on every screen of the alert's station until ``until``: a notice of
    hq.publish (urgent) and the station's notices document published through hq.publish
    (the one publisher), the outcome in the alert's record either way.

    The notice is saved before the broker is asked (the document is built from the
    notices table, and no lock is held while the broker answers) and deleted again when
    nothing was published, so pushing again from the same form does not show it twice."""
    from hq.publish.documents import publish as publish_document
    from hq.publish.models import Kind as ContentKind
    from hq.publish.models import Level, Notice

    alert = Alert.objects.using(using).get(pk=alert_id)
    if not may_handle(user, alert.site):
        raise Refused("只有本所所长、市局督察或系统管理员可以推送公告")
    if alert.kind_enum is not Kind.CROWDED:
        raise Refused("延时服务公告只能在“候办人数过多”的告警上推送")
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        raise Refused(f"请填写公告内容（不超过 {MAX_TEXT} 字）")
    now, who = clock.now(), user.get_username()
    if until <= now:
        raise Refused("结束时间须晚于现在")
    _prune(alert.site, now, using)
    notice = Notice.objects.using(using).create(site=alert.site, text=text,
                                                level=Level.URGENT.value, starts=now,
                                                ends=until)
    try:
        done = publish_document(ContentKind.NOTICES, alert.site, who, opts, using, push=push)
    except (ParseError, SyncError) as exc:
        notice.delete(using=using)
        _record(alert, who, Action.NOTICE_FAILED, f"「{text}」未推送：{exc}", None, using)
        return Pushed(error=str(exc))
    version = done.version.version
    _record(alert, who, Action.NOTICE_PUSHED,
            f"「{text}」，显示至 {until:%H:%M}，公告版本 {version}", notice.pk, using)
    return Pushed(version=version)


def _record(alert: Alert, who: str, action: Action, note: str, notice_id: int | None,
            using: str) -> None:
    AlertEntry.objects.using(using).create(alert=alert, at=clock.now(), actor=who,
                                           action=action.value, note=note,
                                           notice_id=notice_id)


def _prune(site: str, now: datetime, using: str) -> None:
    """Delete this station's pushed notices that have ended: one a crowded day would add
    up to the 100 notices a counter takes in one document (sync/schema.py), and the
    counters stop showing an ended one anyway. Notices an editor wrote are left alone."""
    from hq.publish.models import Notice

    pushed = AlertEntry.objects.using(using).filter(
        alert__site=site, action=Action.NOTICE_PUSHED.value, notice_id__isnull=False
    ).values_list("notice_id", flat=True)
    Notice.objects.using(using).filter(pk__in=list(pushed), site=site, ends__lt=now).delete()
