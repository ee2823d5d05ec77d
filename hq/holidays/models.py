"""Holiday schedules HQ enters for years chinese-calendar does not know yet."""

from __future__ import annotations

import json
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models

from device.workdays import YearData


def _dates(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in json.loads(text or "[]"))


class HolidayYear(models.Model):
    year = models.PositiveSmallIntegerField(unique=True, verbose_name="年份")
    holidays = models.TextField(default="[]", verbose_name="放假日期（JSON 列表）")
    workdays = models.TextField(default="[]", verbose_name="调休上班日期（JSON 列表）")
    source = models.TextField(blank=True, default="", verbose_name="依据（通知文号）")
    entered_by = models.TextField(blank=True, default="", verbose_name="录入人")
    entered_at = models.DateTimeField(null=True, blank=True, verbose_name="录入时间")

    class Meta:
        db_table = "hq_holiday_years"
        ordering = ["year"]
        verbose_name = verbose_name_plural = "节假日安排"

    def data(self) -> YearData:
        return YearData(int(self.year), _dates(self.holidays), _dates(self.workdays))

    def clean(self) -> None:
        try:
            self.data()
        except ValueError as exc:  # also a malformed date or list
            raise ValidationError(str(exc)) from None

    def __str__(self) -> str:
        return f"{self.year} 年节假日"
