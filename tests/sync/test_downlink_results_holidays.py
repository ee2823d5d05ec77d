"""The two derived kinds of site content on the counter: ``results`` (the station's
published month, for the home screen) and ``holidays`` (the working-day calendar). Good
documents pass and are stored as sent; bad ones are refused naming the field and the fix,
and leave the stored one alone; the device's readers give back what HQ sent."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from device.errors import ParseError
from device.holidays import read_holidays
from device.results import MonthFigure, ResultsBoard, read_results
from device.store import Store
from device.workdays import WorkCalendar, YearData
from sync import downlink
from sync.uplink import Syncer
from tests.sync.test_sync_downlink import HOLIDAYS, RESULTS


def _with(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> bytes:
    """``doc`` with the field at ``path`` set to ``value`` (or removed for ...)."""
    out = copy.deepcopy(doc)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(out, ensure_ascii=False).encode()


def test_good_documents_of_both_kinds_are_accepted_as_sent() -> None:
    for kind, doc in (("results", RESULTS), ("holidays", HOLIDAYS)):
        assert downlink.parse_content(kind, json.dumps(doc).encode()) == doc
    # A month nobody rated: no rate at all (HQ leaves out its null), and no windows.
    quiet = {"version": "v2", "month": "2027-01", "station": {"name": "城关派出所", "rated": 0}}
    assert downlink.parse_content("results", json.dumps(quiet).encode()) == quiet
    # Several years, and a year with no make-up workdays.
    years = {**HOLIDAYS, "years": {**HOLIDAYS["years"],
                                   "2028": {"holidays": ["2028-01-01"], "workdays": []}}}
    assert downlink.parse_content("holidays", json.dumps(years).encode()) == years


@pytest.mark.parametrize(("payload", "reason"), [
    (_with(RESULTS, ("month",), "2026-13"),
     "results.month: '2026-13' does not match ^[0-9]{4}-(0[1-9]|1[0-2])$; write the month like "
     "2026-11"),
    (_with(RESULTS, ("month",), ...), "missing required field 'month'"),
    (_with(RESULTS, ("station", "good_rate"), 101),
     "results.station.good_rate: 101 is above 100; write a per cent from 0 to 100"),
    (_with(RESULTS, ("station", "good_rate"), None),
     "results.station.good_rate: expected number, got null; write a per cent from 0 to 100 "
     "(leave the field out when nobody rated)"),
    (_with(RESULTS, ("station", "rated"), -1),
     "results.station.rated: -1 is below 0; write a count"),
    (_with(RESULTS, ("station", "rated"), ...), "results.station: missing required field 'rated'"),
    (_with(RESULTS, ("station", "officer"), "000001"),
     "results.station: unknown field 'officer'; allowed: bad_closed"),
    (_with(RESULTS, ("windows", 0, "device"), "W 01"), "results.windows[0].device: 'W 01'"),
    (_with(RESULTS, ("station", "name"), ""), "results.station.name: shorter than 1"),
])
def test_a_bad_results_document_is_refused_naming_the_field(payload: bytes,
                                                            reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        downlink.parse_content("results", payload)
    assert reason in str(exc.value)


@pytest.mark.parametrize(("payload", "reason"), [
    (_with(HOLIDAYS, ("years",), ...), "holidays: missing required field 'years'"),
    (_with(HOLIDAYS, ("years", "27"), {"holidays": [], "workdays": []}),
     "holidays.years: unknown field '27'; allowed: names matching ^[0-9]{4}$"),
    (_with(HOLIDAYS, ("years", "2027", "workdays"), ...),
     "holidays.years.2027: missing required field 'workdays'"),
    (_with(HOLIDAYS, ("years", "2027", "holidays", 0), "2027/01/01"),
     "holidays.years.2027.holidays[0]: '2027/01/01' does not match ^[0-9]{4}-[0-9]{2}-[0-9]{2}$;"
     " write an ISO date like 2027-01-01"),
    (_with(HOLIDAYS, ("years", "2027", "holidays", 0), "2027-1-1"),
     "holidays.years.2027.holidays[0]: shorter than 10 characters; write an ISO date like"),
    (_with(HOLIDAYS, ("years", "2027", "holidays", 0), "2027-02-30"),
     "holidays.years.2027.holidays[0]: 2027-02-30 is not a day of the calendar"),
    (_with(HOLIDAYS, ("years", "2027", "holidays", 0), "2026-10-01"),
     "2026-10-01 is not in 2027; list it under 2026"),
    (_with(HOLIDAYS, ("years", "2027", "holidays", 1), "2027-01-01"),
     "2027-01-01 appears twice; list each date once"),
    (_with(HOLIDAYS, ("years", "2027", "workdays"), ["2027-02-10"]),
     "2027-02-10 is both a holiday and a make-up workday; keep it in one list"),
    (_with(HOLIDAYS, ("years", "2027", "workdays"), ["2027-02-08"]),
     "2027-02-08 is a Monday; a make-up workday (调休上班) is a Saturday or Sunday"),
    (json.dumps({"version": "h", "years": {str(y): {"holidays": [], "workdays": []}
                                           for y in range(2000, 2021)}}).encode(),
     "holidays.years: more than 20 fields; write at most 20 years, from last year on"),
])
def test_a_bad_holidays_document_is_refused_naming_the_field(payload: bytes,
                                                             reason: str) -> None:
    with pytest.raises(ParseError) as exc:
        downlink.parse_content("holidays", payload)
    assert reason in str(exc.value)


def test_both_kinds_round_trip_through_the_store_to_the_readers(syncer: Syncer) -> None:
    t = syncer.topics
    for kind, doc in (("results", RESULTS), ("holidays", HOLIDAYS)):
        out = syncer.handle_message(t.content(kind), json.dumps(doc, ensure_ascii=False)
                                    .encode())
        assert out is not None and out[0] == f"kiosk/v1/s1/w01/content/{kind}/result"
        assert out[1]["ok"] and out[1]["applied"] and out[1]["version"] == doc["version"]
    # What the kiosk process reads, on its own connection (as kiosk-sync's peer).
    kiosk = Store(syncer.cfg.db_path, site="s1", device="w01")
    try:
        stored = kiosk.site_content("results")
        assert stored is not None and json.loads(stored.body) == RESULTS
        assert read_results(stored.body) == MonthFigure(
            version="20261202.1", month="2026-11", station="城关派出所", rated=1234,
            good_rate=98.5)
        assert ResultsBoard(kiosk).current() == read_results(stored.body)
        days = kiosk.site_content("holidays")
        assert days is not None
        years = read_holidays(days.body)
        assert years == {2027: YearData(
            2027, frozenset({date(2027, 1, 1), date(2027, 2, 10), date(2027, 2, 11)}),
            frozenset({date(2027, 2, 6)}))}
        assert WorkCalendar(years).is_workday(date(2027, 2, 6))  # the make-up Saturday
        assert not WorkCalendar(years).is_workday(date(2027, 2, 10))  # Spring Festival, a Wednesday
        assert WorkCalendar(years).is_workday(date(2027, 2, 12))
    finally:
        kiosk.close()


def test_a_refused_document_keeps_the_stored_one(syncer: Syncer) -> None:
    t = syncer.topics
    syncer.handle_message(t.content("holidays"), json.dumps(HOLIDAYS).encode())
    newer = _with({**HOLIDAYS, "version": "20261203.1"}, ("years", "2027", "workdays"),
                  ["2027-02-08"])
    out = syncer.handle_message(t.content("holidays"), newer)
    assert out is not None and not out[1]["ok"] and "is a Monday" in out[1]["error"]
    stored = syncer.store.site_content("holidays")
    assert stored is not None and stored.version == "20261202.1"


def test_the_figure_line_is_what_the_home_screen_says() -> None:
    figure = read_results(json.dumps(RESULTS))
    assert figure.line == "本所11月公布：好评率 98.5%（群众评价 1,234 件）"
    quiet = MonthFigure("v", "2027-01", "城关派出所", rated=0, good_rate=None)
    assert quiet.line == "本所1月公布：暂无群众评价"


def test_a_rollback_may_name_the_new_kinds() -> None:
    for kind in ("results", "holidays"):
        doc = downlink.parse_command("rollback", json.dumps(
            {"id": "r1", "kind": kind, "version": "20261201.1"}).encode())
        assert doc["kind"] == kind
