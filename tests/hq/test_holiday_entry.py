"""HQ enters a year chinese-calendar does not know yet in the admin, as the State
Council's notice reads (a date or a span per line), in a real browser; a slip is refused
with the line it is on, and nothing is saved; who entered it and when is kept."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot

ADD = "/admin/holidays/holidayyear/add/"


def test_a_date_or_a_span_per_line(console: Console) -> None:
    from django.core.exceptions import ValidationError

    from hq.holidays.forms import parse_dates  # Django is configured by the console

    assert parse_dates("2027-01-01\n\n 2027-02-10 ~ 2027-02-12 \n2027/5/1", "放假日期") == [
        date(2027, 1, 1), date(2027, 2, 10), date(2027, 2, 11), date(2027, 2, 12),
        date(2027, 5, 1)]
    for bad, says in [("2027-02-30", "第 1 行「2027-02-30」不是真实的日期"),
                      ("2027-01-01\n春节", "第 2 行「春节」看不懂：请写成 2027-02-10"),
                      ("2027-02-16 ~ 2027-02-10", "区间应从早到晚")]:
        with pytest.raises(ValidationError) as err:
            parse_dates(bad, "放假日期")
        assert says in err.value.messages[0], err.value.messages


def test_the_admin_enters_2027_by_lines(console: Console, browser_page: Any) -> None:
    from hq.holidays.models import HolidayYear

    page = browser_page
    login(page, console, "hol-admin", console.add_user("hol-admin", "admin"))
    page.goto(console.url + ADD)
    page.fill("#id_year", "2027")
    page.fill("#id_holiday_lines", "2027-01-01\n2027-02-10 ~ 2027-02-16")
    page.fill("#id_workday_lines", "2027-02-08")  # a Monday: a slip
    page.fill("#id_source", "国办发明电〔2026〕X号")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text(
        "调休上班日期 2027-02-08 是工作日")
    assert not HolidayYear.objects.using(console.alias).filter(year=2027).exists()
    page.fill("#id_workday_lines", "2027-02-07")  # the Sunday it meant
    screenshot(page, "admin-holidays")
    page.click("input[name=_save]")
    row = page.locator("#result_list tbody tr", has_text="2027")
    expect(row).to_contain_text("hol-admin")
    expect(row).to_contain_text("8")  # days off: New Year's Day and seven of 春节
    saved = HolidayYear.objects.using(console.alias).get(year=2027)
    assert json.loads(saved.holidays) == ["2027-01-01"] + [f"2027-02-{d}" for d in
                                                           range(10, 17)]
    assert json.loads(saved.workdays) == ["2027-02-07"] and saved.entered_at is not None
    # Opened again, the dates read as they were entered, one per line.
    page.click("#result_list tbody tr a:has-text('2027')")
    expect(page.locator("#id_holiday_lines")).to_have_value(
        "\n".join(["2027-01-01"] + [f"2027-02-{d}" for d in range(10, 17)]))
