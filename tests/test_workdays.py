"""Working days under the official calendar, with make-up workdays and unknown years."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.workdays import UnknownYear, WorkCalendar, YearData

CAL = WorkCalendar.official()


def test_national_day_2026_and_its_make_up_saturday() -> None:
    # 2026-10-01..07 off; Saturday 2026-10-10 is a working day instead (调休).
    assert CAL.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert CAL.add_workdays(date(2026, 10, 9), 1) == date(2026, 10, 10)
    assert CAL.is_workday(date(2026, 9, 20))  # a Sunday worked for Mid-Autumn
    assert not CAL.is_workday(date(2026, 9, 25))  # Mid-Autumn, a Friday off
    assert CAL.workdays_between(date(2026, 9, 30), date(2026, 10, 10)) == 3  # 8th, 9th, 10th


def test_a_deadline_is_the_end_of_the_working_day_in_the_sites_zone() -> None:
    # Opened 2026-09-30 20:00 UTC = 10-01 04:00 in Shanghai, in the holiday.
    due = CAL.deadline(datetime(2026, 9, 30, 20, 0, tzinfo=UTC), 1)
    assert due.isoformat() == "2026-10-08T23:59:59.999000+08:00"


def test_a_year_nobody_knows_is_unknown_until_hq_enters_it() -> None:
    with pytest.raises(UnknownYear) as exc:
        CAL.add_workdays(date(2026, 12, 15), 15)
    assert exc.value.year == 2027 and "2027 年的节假日安排尚未录入" in exc.value.reason
    y2027 = YearData(2027, frozenset({date(2027, 1, 1)}), frozenset())
    cal = WorkCalendar.official([y2027])
    # Dec 16-31 has 12 working days; Jan 1 is off; then Jan 4, 5, 6.
    assert cal.add_workdays(date(2026, 12, 15), 15) == date(2027, 1, 6)


def test_what_hq_enters_overrides_the_package() -> None:
    y = YearData(2026, frozenset({date(2026, 12, 16)}), frozenset())
    assert WorkCalendar.official([y]).add_workdays(date(2026, 12, 15), 1) == date(2026, 12, 17)


@pytest.mark.parametrize(("holidays", "workdays", "message"), [
    ({date(2026, 1, 1)}, set(), "is not in 2027"),
    ({date(2027, 2, 6)}, {date(2027, 2, 6)}, "both a holiday and a make-up workday"),
    (set(), {date(2027, 2, 8)}, "is a weekday"),
])
def test_year_data_is_checked_with_the_fix(holidays: set[date], workdays: set[date],
                                           message: str) -> None:
    with pytest.raises(ValueError, match=message):
        YearData(2027, frozenset(holidays), frozenset(workdays))


@given(st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30)),
       st.integers(min_value=1, max_value=60))
def test_adding_n_working_days_lands_on_one_n_working_days_on(start: date, n: int) -> None:
    end = CAL.add_workdays(start, n)
    assert CAL.is_workday(end) and CAL.workdays_between(start, end) == n
    assert end - start >= timedelta(days=n)
