"""差评 work orders. The first migration is the 0.1 table ``work_orders`` as it was."""

from __future__ import annotations

from django.db import models


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
    status = models.TextField(db_default="open")
    simulated = models.IntegerField(db_default=0)

    class Meta:
        db_table = "work_orders"
        indexes = [models.Index(fields=["officer", "event_ts"], name="work_orders_officer")]
