"""The evaluation report from a known set of events: exact figures in CSV, charts in HTML.

The figures are checked on SQLite and on PostgreSQL (``hq_url``, tests/sync/pg.py)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from device.events import GENESIS, Draft, EventType, seal
from hq.store import HqStore
from kiosk.sync_cli import main_hq

DAY1 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


class Device:
    def __init__(self, device: str) -> None:
        self.device, self.seq, self.prev, self.out = device, 0, GENESIS, []

    def add(self, when: datetime, etype: EventType, **data: Any) -> None:
        self.seq += 1
        env = seal(Draft(etype, data), site="s1", device=self.device, seq=self.seq,
                   prev=self.prev, ts=when)
        self.prev = env.hash
        self.out.append((env.to_dict(), False))

    def case(self, when: datetime, case_no: str, officer: str, service: str,
             level: str | None, flags: int = 0) -> None:
        d = {"case_no": case_no, "officer": officer, "service": service}
        self.add(when, EventType.CASE_STARTED, **d)
        for i in range(flags):
            self.add(when, EventType.MIRROR_FLAGGED, case_no=case_no, field=f"f{i}")
        self.add(when + timedelta(minutes=5), EventType.CASE_ENDED, **d, mirror_flags=flags)
        if level:
            self.add(when + timedelta(minutes=6), EventType.RATING_GIVEN, **d, level=level,
                     unsatisfied=level in ("unsatisfied", "very_unsatisfied"))
        else:
            self.add(when + timedelta(minutes=6), EventType.RATING_SKIPPED, **d,
                     reason="timeout")


def build_db(url: str) -> None:
    a, b = Device("w01"), Device("w02")
    # An unsatisfied rating in March: counts toward "two in twelve months", not the period.
    a.case(datetime(2026, 3, 3, 2, 0, tzinfo=UTC), "OLD1", "000001", "hukou", "unsatisfied")
    a.case(DAY1, "C1", "000001", "id_card.renew", "very_satisfied")
    a.case(DAY1 + timedelta(hours=1), "C2", "000001", "id_card.renew", "very_unsatisfied",
           flags=2)
    a.case(DAY1 + timedelta(hours=2), "C3", "000001", "hukou", None)
    a.add(DAY1 + timedelta(hours=3), EventType.AWAY_ENDED, officer="000001", reason="开会",
          duration_s=900.0)
    a.add(DAY1 + timedelta(hours=3), EventType.TICKET_ISSUED, number="A001", service="hukou")
    a.add(DAY1 + timedelta(hours=3, minutes=10), EventType.TICKET_CALLED, number="A001",
          service="hukou", waited_s=600.0)
    a.add(DAY1 + timedelta(hours=4), EventType.COMMENT_SUBMITTED, categories=["态度"],
          officer="000001", ref="K-1", callback_requested=True, callback_phone="13800000000")
    b.case(DAY1 + timedelta(days=1), "D1", "000002", "hukou", "satisfied")
    b.case(DAY1 + timedelta(days=1, hours=1), "D2", "000002", "hukou", "basic", flags=1)
    b.case(DAY1 + timedelta(days=9), "LATE", "000002", "hukou", "unsatisfied")  # after period
    hq = HqStore.open(url)
    hq.ingest(a.out + b.out)
    hq.close()


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_report_figures(hq_url: str, tmp_path: Path) -> None:
    build_db(hq_url)
    out = tmp_path / "report"
    rc = main_hq(["report", "--db", hq_url, "--from", "2026-11-01", "--to", "2026-11-08",
                  "--out", str(out)])
    assert rc == 0
    sat = {(r["dimension"], r["key"]): r for r in read(out / "satisfaction.csv")}
    w01 = sat[("window", "s1/w01")]
    assert (w01["very_satisfied"], w01["very_unsatisfied"], w01["rated"], w01["unrated"],
            w01["satisfaction_pct"], w01["mirror_flags"], w01["cases"]) == (
        "1", "1", "2", "1", "50.0", "2", "3")
    o2 = sat[("officer", "000002")]
    assert (o2["satisfied"], o2["basic"], o2["rated"], o2["satisfaction_pct"]) == (
        "1", "1", "2", "100.0")
    assert sat[("day", "2026-11-02")]["rated"] == "2"
    assert sat[("day", "2026-11-03")]["rated"] == "2"
    assert sat[("service", "hukou")]["unrated"] == "1"
    cases = {r["case_no"]: r for r in read(out / "cases.csv")}
    assert set(cases) == {"C1", "C2", "C3", "D1", "D2"}
    assert (cases["C2"]["mirror_flags"], cases["C2"]["rating"]) == ("2", "very_unsatisfied")
    assert cases["C3"]["rating"] == ""
    away = {(r["dimension"], r["key"]): r for r in read(out / "away.csv")}
    assert away[("officer", "000001")]["away_minutes"] == "15.0"
    tickets = {(r["dimension"], r["key"]): r for r in read(out / "tickets.csv")}
    assert tickets[("service", "hukou")]["avg_wait_min"] == "10.0"
    comments = read(out / "comments.csv")
    assert [(c["categories"], c["ref"]) for c in comments] == [("态度", "K-1")]
    assert "13800000000" not in (out / "comments.csv").read_text(encoding="utf-8-sig")
    # 000001: March and C2 (two in twelve months); 000002's only one is after the period.
    assert read(out / "repeat_officers.csv") == [
        {"officer": "000001", "unsatisfied_work_orders_12_months": "2"}]
    assert [r["case_no"] for r in read(out / "work_orders.csv")] == ["C2"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 6 and "<script" not in page
    assert "非常不满意" in page and "13800000000" not in page


def test_status_command_reports_gaps(hq_url: str, capsys: Any) -> None:
    build_db(hq_url)
    assert main_hq(["status", "--db", hq_url]) == 0
    assert "s1/w01: 18 events, verified to seq 18 of 18, gaps none" in capsys.readouterr().out
    hq = HqStore.open(hq_url)
    hq.db.execute("DELETE FROM hq_events WHERE device = 'w02' AND seq = 3")
    hq.close()
    assert main_hq(["status", "--db", hq_url]) == 1
    assert "gaps 3-3" in capsys.readouterr().out


def test_report_dates_are_checked(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        main_hq(["report", "--from", "yesterday", "--to", "2026-11-08", "--out", "x"])
    assert exc.value.code == 2
    assert "'yesterday' is not a date like 2026-11-01" in capsys.readouterr().err


def test_nan_and_impossible_times_never_break_or_show_in_the_report(
        hq_url: str, tmp_path: Path) -> None:
    a = Device("w01")
    a.add(DAY1, EventType.TICKET_CALLED, number="A001", service="hukou", waited_s="NaN")
    a.add(DAY1, EventType.TICKET_CALLED, number="A002", service="hukou", waited_s=120.0)
    a.add(DAY1, EventType.AWAY_ENDED, officer="000001", duration_s="Infinity")
    hq = HqStore.open(hq_url)
    hq.ingest(a.out)
    # A row stored before HQ validated timestamps (it would be quarantined today).
    body = dict(a.out[0][0], id="legacy", seq=99, ts="2026-11-02T99:99:99.000Z")
    import json

    with hq.db.tx():
        hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                      "replayed, received_at, verified) VALUES ('legacy', 's1', 'w01', 99, "
                      "?, 'ticket.called', ?, 0, '', 1)", (body["ts"], json.dumps(body)))
    hq.close()
    out = tmp_path / "r"
    assert main_hq(["report", "--db", hq_url, "--from", "2026-11-01", "--to", "2026-11-08",
                    "--out", str(out)]) == 0
    tickets = {(r["dimension"], r["key"]): r for r in read(out / "tickets.csv")}
    assert tickets[("service", "hukou")]["avg_wait_min"] == "0.7"  # (0 + 120 + 0) / 3
    for f in out.iterdir():
        assert "nan" not in f.read_text(encoding="utf-8-sig").lower().replace(
            "name", ""), f


def test_simulated_counters_are_left_out_unless_asked(hq_url: str, tmp_path: Path) -> None:
    real, sim = Device("w01"), Device("sim-w0001")
    real.case(DAY1, "R1", "000001", "hukou", "unsatisfied")
    sim.case(DAY1, "S1", "SIM00001", "hukou", "unsatisfied")
    for ev, _r in sim.out:
        ev["data"]["simulated"] = True
    # (sealed before the flag was set: reseal so the chain verifies)
    sim2 = Device("sim-w0001")
    for ev, _r in sim.out:
        sim2.add(datetime.fromisoformat(ev["ts"].replace("Z", "+00:00")),
                 EventType(ev["type"]), **ev["data"])
    hq = HqStore.open(hq_url)
    hq.ingest(real.out + sim2.out)
    hq.close()
    for flag, windows in (([], {"s1/w01"}), (["--include-simulated"],
                                             {"s1/w01", "s1/sim-w0001"})):
        out = tmp_path / f"r{len(flag)}"
        assert main_hq(["report", "--db", hq_url, "--from", "2026-11-01", "--to",
                        "2026-11-08", "--out", str(out), *flag]) == 0
        got = {r["key"] for r in read(out / "satisfaction.csv") if r["dimension"] == "window"}
        assert got == windows
        orders = {r["officer"] for r in read(out / "work_orders.csv")}
        assert orders == ({"000001"} if not flag else {"000001", "SIM00001"})
