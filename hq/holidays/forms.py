"""Entering a year's holiday schedule as the State Council's notice reads: one date or
one span per line (春节 is a week), not a JSON list."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

from hq.holidays.models import HolidayYear

_DAY = r"(\d{4}-\d{1,2}-\d{1,2})"
_SPAN = re.compile(rf"^{_DAY}\s*(?:(?:~|～|至|到|--)\s*{_DAY})?$")
MAX_SPAN = 15  # no official holiday is longer; a longer span is a typing slip


def parse_dates(text: str, what: str) -> list[date]:
    """``2027-02-10`` or ``2027-02-10 ~ 2027-02-16`` per line; ValidationError naming the
    line and the fix otherwise."""
    out: set[date] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().replace("／", "-").replace("/", "-")
        if not line:
            continue
        m = _SPAN.match(line)
        if m is None:
            raise ValidationError(f"{what}第 {n} 行「{raw.strip()}」看不懂：请写成 2027-02-10，"
                                  "或一段连续的日子 2027-02-10 ~ 2027-02-16")
        try:
            first = date(*(int(p) for p in m.group(1).split("-")))
            last = date(*(int(p) for p in m.group(2).split("-"))) if m.group(2) else first
        except ValueError:
            raise ValidationError(f"{what}第 {n} 行「{raw.strip()}」不是真实的日期，请核对月份和"
                                  "日子") from None
        if not 0 <= (last - first).days < MAX_SPAN:
            raise ValidationError(f"{what}第 {n} 行：区间应从早到晚，且不超过 {MAX_SPAN} 天")
        out.update(first + timedelta(days=i) for i in range((last - first).days + 1))
    return sorted(out)


def _lines(stored: str) -> str:
    try:
        return "\n".join(json.loads(stored or "[]"))
    except ValueError:
        return stored


class HolidayYearForm(forms.ModelForm):
    holiday_lines = forms.CharField(
        label="放假日期", required=False, widget=forms.Textarea(attrs={"rows": 10}),
        help_text="每行一个日期或一段日子，例如 2027-01-01，或 2027-02-10 ~ 2027-02-16"
                  "（含调休后放假的日子）。")
    workday_lines = forms.CharField(
        label="调休上班日期", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="需要上班的周六、周日，每行一个，例如 2027-02-07。")

    class Meta:
        model = HolidayYear
        fields = ("year", "source")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["holiday_lines"].initial = _lines(self.instance.holidays)
            self.fields["workday_lines"].initial = _lines(self.instance.workdays)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        try:
            holidays = parse_dates(str(data.get("holiday_lines") or ""), "放假日期")
            workdays = parse_dates(str(data.get("workday_lines") or ""), "调休上班日期")
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        year = data.get("year")
        for d in holidays + workdays:
            if year is not None and d.year != year:
                raise ValidationError(f"{d.isoformat()} 不在 {year} 年：每年的安排请分别录入")
        for d in workdays:
            if d.weekday() < 5:
                raise ValidationError(f"调休上班日期 {d.isoformat()} 是工作日：调休上班的日子"
                                      "应是周六或周日")
        both = set(holidays) & set(workdays)
        if both:
            raise ValidationError(f"{min(both).isoformat()} 同时写在放假和调休上班里，请只留一处")
        self.instance.holidays = json.dumps([d.isoformat() for d in holidays])
        self.instance.workdays = json.dumps([d.isoformat() for d in workdays])
        if data.get("year") is not None:
            self.instance.year = data["year"]
        return data
