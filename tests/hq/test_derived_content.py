"""The site content HQ derives instead of editing: ``holidays`` from the calendar (a year
entered in the admin included) and ``results`` from the latest published month. Built by
hq.publish.documents.build, so each document is versioned and checked by the counters'
own parser before anything is sent."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device.errors import ParseError
from hq.conf import alias_for
from hq.store import HqStore

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
# The State Council's 2027 schedule as an admin would enter it (New Year, Spring Festival).
Y2027_OFF = ["2027-01-01", "2027-01-02", "2027-01-03", "2027-02-06", "2027-02-07",
             "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
Y2027_WORKED = ["2027-02-13", "2027-02-14"]  # Saturday and Sunday worked (调休)


@pytest.fixture
def alias(tmp_path: Path) -> Any:
    url = str(tmp_path / "hq.db")
    store = HqStore.open(url)  # migrates, the publish app's 0002 included
    yield alias_for(url)
    store.close()


def test_a_holidays_document_holds_the_year_hq_entered(alias: str) -> None:
    from hq.holidays.models import HolidayYear
    from hq.publish.documents import build
    from hq.publish.models import Kind

    HolidayYear.objects.using(alias).create(
        year=2027, holidays=json.dumps(list(reversed(Y2027_OFF))),
        workdays=json.dumps(Y2027_WORKED), source="国办发明电〔2026〕号")
    doc = json.loads(build(Kind.HOLIDAYS, "s1", alias, now=NOW))
    assert doc["version"] == "20261202.1"
    assert doc["years"]["2027"] == {"holidays": Y2027_OFF, "workdays": Y2027_WORKED}
    # chinese-calendar's own years from last year on; nothing older is sent.
    assert "2025" in doc["years"] and "2024" not in doc["years"]
    y2026 = doc["years"]["2026"]
    assert "2026-10-01" in y2026["holidays"] and "2026-10-10" in y2026["workdays"]
    # What the counter would make of it (the same reader kiosk-sync checks it with).
    from device.holidays import parse_holidays
    from device.workdays import WorkCalendar

    years = WorkCalendar(parse_holidays(doc))
    assert not years.is_workday(datetime(2027, 2, 10).date())
    assert years.is_workday(datetime(2027, 2, 13).date())


def test_a_results_document_is_the_latest_published_month(alias: str) -> None:
    from hq.publish.documents import build
    from hq.publish.models import Kind
    from hq.reports.models import PublishedMonth

    def month(m: str, good: float | None, rated: int) -> None:
        figures = {"rated": rated, "good_rate": good, "bad_rate": None if good is None else 1.5,
                   "bad_total": 2, "bad_closed": 2, "bad_on_time": 1}
        doc = {"month": m, "station": {"name": "城关派出所", **figures},
               "windows": {"w02": {"name": "2号窗口", **figures, "good_rate": None},
                           "w01": {"name": "1号窗口", **figures}}}
        PublishedMonth.objects.using(alias).create(
            site="s1", month=m, document=json.dumps(doc, ensure_ascii=False),
            published_by="sup", published_at=NOW)

    with pytest.raises(ParseError, match="站点 s1 还没有公布过月度评价结果"):
        build(Kind.RESULTS, "s1", alias, now=NOW)
    month("2026-11", 98.5, 1234)
    month("2026-10", 90.0, 800)  # an older month published late: still November shown
    doc = json.loads(build(Kind.RESULTS, "s1", alias, now=NOW))
    assert doc["month"] == "2026-11"
    assert doc["station"] == {"name": "城关派出所", "rated": 1234, "good_rate": 98.5,
                              "bad_rate": 1.5, "bad_total": 2, "bad_closed": 2,
                              "bad_on_time": 1}
    # Windows in device order; a rate nobody could have is left out, never null.
    assert [w["device"] for w in doc["windows"]] == ["w01", "w02"]
    assert "good_rate" not in doc["windows"][1]
    from device.results import parse_results

    assert parse_results(doc).line == "本所11月公布：好评率 98.5%（群众评价 1,234 件）"
