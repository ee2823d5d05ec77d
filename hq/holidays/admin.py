from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hq import clock
from hq.holidays.forms import HolidayYearForm
from hq.holidays.models import HolidayYear


@admin.register(HolidayYear)
class HolidayYearAdmin(admin.ModelAdmin):
    form = HolidayYearForm
    fields = ("year", "holiday_lines", "workday_lines", "source")
    list_display = ("year", "days_off", "workdays_count", "source", "entered_by", "entered_at")

    @admin.display(description="放假天数")
    def days_off(self, obj: HolidayYear) -> int:
        return len(json.loads(obj.holidays or "[]"))

    @admin.display(description="调休上班天数")
    def workdays_count(self, obj: HolidayYear) -> int:
        return len(json.loads(obj.workdays or "[]"))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.entered_by = request.user.get_username()
        obj.entered_at = clock.now()
        super().save_model(request, obj, form, change)
