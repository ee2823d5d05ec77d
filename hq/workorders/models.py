"""差评 work orders. The first migration is the 0.1 table ``work_orders`` as it was; the
lifecycle's columns came after. The state changes only through hq.workorders.actions,
which applies hq.lifecycle's rules and writes the audit entry in the same transaction."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from hq.lifecycle import DEFAULT_WORKDAYS, Finding, State


class WorkOrder(models.Model):
    id = models.TextField(primary_key=True)  # the rating event's id
    site = models.TextField()
    device = models.TextField()
    officer = models.TextField()
    case_no = models.TextField()
    service = models.TextField()
    level = models.TextField()
    event_ts = models.TextField()
    created_at = models.TextField()
    status = models.TextField(db_default="open")  # 0.1's column: open / closed
    simulated = models.IntegerField(db_default=0)
    state = models.TextField(db_default=State.VISIT.value,
                             choices=[(s.value, s.label) for s in State])
    state_since = models.DateTimeField(null=True)
    reasons = models.TextField(db_default="[]")  # the chips the citizen chose (JSON)
    # The callback phone the citizen left: only here at HQ, deleted a configurable time
    # after closing (hq.workorders.actions.tick).
    phone = models.TextField(db_default="")
    phone_deleted_at = models.DateTimeField(null=True)
    finding = models.TextField(db_default="", blank=True,
                               choices=[(f.value, f.label) for f in Finding])
    classified_by = models.TextField(db_default="")
    closed_at = models.DateTimeField(null=True)
    escalated_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "work_orders"
        indexes = [models.Index(fields=["officer", "event_ts"], name="work_orders_officer"),
                   models.Index(fields=["site", "state"], name="work_orders_site_state")]
        constraints = [models.UniqueConstraint(
            fields=["site", "device", "case_no"], condition=~models.Q(case_no=""),
            name="work_orders_one_per_case")]
        verbose_name = verbose_name_plural = "差评工单"

    @property
    def state_enum(self) -> State:
        return State(self.state)

    @property
    def reason_list(self) -> list[str]:
        try:
            value = json.loads(self.reasons or "[]")
        except ValueError:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def masked_phone(self) -> str:
        p = self.phone
        if not p:
            return ""
        return p[:3] + "*" * max(len(p) - 7, 1) + p[-4:] if len(p) >= 8 else "*" * len(p)


class AuditEntry(models.Model):
    """Who did what to a work order, and when. Append-only: never changed or deleted."""

    order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="audit")
    at = models.DateTimeField()
    actor = models.TextField()
    action = models.TextField()
    from_state = models.TextField(blank=True, default="")
    to_state = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="")

    class Meta:
        db_table = "work_order_audit"
        ordering = ["id"]  # the order things were recorded in
        verbose_name = verbose_name_plural = "工单操作记录"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("an audit entry is never changed: add a new one")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("an audit entry is never deleted")


class DeadlineSettings(models.Model):
    """Working days each step may take (one row), and how long a phone is kept."""

    visit = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["visit"],
                                             verbose_name="回访（工作日）")
    classify = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["classify"],
                                                verbose_name="核实定性（工作日）")
    review = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["review"],
                                              verbose_name="申诉复核（工作日）")
    rectify = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["rectify"],
                                               verbose_name="整改（工作日）")
    reply = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["reply"],
                                             verbose_name="答复（工作日）")
    rerate = models.PositiveSmallIntegerField(default=DEFAULT_WORKDAYS["rerate"],
                                              verbose_name="群众再评价（工作日）")
    phone_keep_days = models.PositiveSmallIntegerField(
        default=30, verbose_name="办结后保留回访电话（天）")

    class Meta:
        db_table = "work_order_deadlines"
        verbose_name = verbose_name_plural = "工单时限设置"

    @classmethod
    def current(cls, using: str = "default") -> DeadlineSettings:
        return cls.objects.using(using).get_or_create(pk=1)[0]

    def workdays(self, name: str) -> int:
        return int(getattr(self, name))
