"""Station alerts and their record. An alert is inserted by the collector (raw SQL,
hq.alerts.opening) inside its ingest transaction, so the columns it does not give have
database defaults; after that it changes only through :meth:`Alert.acknowledge`, and
everything done to it is an append-only :class:`AlertEntry`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import models

from hq.alerts.texts import Action, Kind, State

__all__ = ["Action", "Alert", "AlertEntry", "Kind", "Refused", "State"]


class Refused(ValueError):
    """What may not be done to an alert, in words for the page."""


class Alert(models.Model):
    id = models.TextField(primary_key=True)  # the station event's id: one alert per event
    site = models.TextField(verbose_name="站点编号")
    device = models.TextField()  # "station": who reported it
    kind = models.TextField(choices=[(k.value, k.label) for k in Kind], verbose_name="类型")
    window_no = models.IntegerField(null=True)  # the station's window number (away only)
    text = models.TextField(verbose_name="内容")  # hq.alerts.texts.describe, at ingest
    data = models.TextField(db_default="{}")  # the event's data as the station sent it
    event_ts = models.TextField()  # the station's clock (UTC ISO), as sent
    created_at = models.DateTimeField()
    simulated = models.IntegerField(db_default=0)
    state = models.TextField(db_default=State.OPEN.value,
                             choices=[(s.value, s.label) for s in State])
    acknowledged_by = models.TextField(db_default="")
    acknowledged_at = models.DateTimeField(null=True)
    remark = models.TextField(db_default="")

    class Meta:
        db_table = "hq_alerts"
        indexes = [models.Index(fields=["site", "state"], name="hq_alerts_site_state"),
                   models.Index(fields=["event_ts"], name="hq_alerts_event_ts")]
        verbose_name = verbose_name_plural = "站点告警"

    @property
    def kind_enum(self) -> Kind:
        return Kind(self.kind)

    @property
    def state_enum(self) -> State:
        return State(self.state)

    @property
    def data_dict(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def acknowledge(self, who: str, at: datetime, remark: str) -> None:
        """未处理 → 已知悉, once: the first who acknowledged stays the one on record."""
        if self.state_enum is not State.OPEN:
            raise Refused(f"这条告警已由 {self.acknowledged_by} 知悉，无需重复操作")
        if not who:
            raise Refused("知悉告警须有具名账号")
        self.state, self.acknowledged_by = State.ACKNOWLEDGED.value, who
        self.acknowledged_at, self.remark = at, remark.strip()


class AlertEntry(models.Model):
    """Who did what to an alert, and when. Append-only: never changed or deleted."""

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="record")
    at = models.DateTimeField()
    actor = models.TextField()
    action = models.TextField(choices=[(a.value, a.label) for a in Action])
    note = models.TextField(blank=True, default="")
    # The hq.publish notice a push created (not a foreign key: an expired one is deleted
    # at the next push, and this record stays).
    notice_id = models.BigIntegerField(null=True)

    class Meta:
        db_table = "hq_alert_record"
        ordering = ["id"]  # the order things were recorded in
        verbose_name = verbose_name_plural = "告警处理记录"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("an alert's record is never changed: add a new entry")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("an alert's record is never deleted")
