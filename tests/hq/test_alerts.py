"""Station alerts: the real kiosk-station service (station/service.py on a real
station.db) reports a window away too long and a crowded hall; ingest opens one alert per
event, never two; acknowledging records who and when; a chief sees only their station's;
the extended-hours notice reaches the station's retained notices document on a real
Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device.events import Draft, EventType
from device.store import Store
from hq.alerts.notice import default_text, default_until, end_today
from hq.alerts.texts import Kind, describe
from hq.store import HqStore
from station.config import loads
from station.service import StationService
from station.store import StationStore
from tests.hq.console import Console, login
from tests.hq.test_results_push import retained
from tests.station.server_support import Clock, Desk, station_toml
from tests.sync.conftest import Mosquitto, free_port

ZONE = ZoneInfo("Asia/Shanghai")
AWAY_TEXT = "1号窗口离岗已 17 分钟（上限 15 分钟），由 2号窗口代办"
CROWD_TEXT = "候办 5 人，最长已等 17 分钟（阈值 5 人 / 30 分钟）"
NOW = "2026-12-02T10:10:00+08:00"


def station_journal(tmp_path: Path) -> list[tuple[dict[str, Any], bool]]:
    """kiosk-station's service at site s1 (tests/station's station.toml: away limit 15
    minutes, crowded at 5 waiting or 30 minutes): five tickets, window 1 away with window 2
    as its backup, 17 minutes on. Its journal as kiosk-sync sends it to HQ."""
    cfg = loads(station_toml(tmp_path).read_text(encoding="utf-8"), "station.toml")
    store = StationStore(cfg.db_path, site=cfg.site)
    clock = Clock()
    desk = Desk(StationService(store, cfg, clock=clock), clock)
    try:
        for _ in range(5):
            desk.ok("issue", service="hukou.birth")
        desk.ok("away", "w01", window=1, backup=2)
        clock.advance(17 * 60)
        assert desk.service.tick()
        return [(dict(ev), False) for ev in store.journal.events()]
    finally:
        store.close()


@pytest.fixture
def hq(hq_url: str) -> Iterator[HqStore]:
    """The console's database on SQLite, then on PostgreSQL (the opening is raw SQL)."""
    store = HqStore.open(hq_url)
    yield store
    store.close()


def _alerts(hq: HqStore) -> list[Any]:
    from hq.alerts.models import Alert

    return list(Alert.objects.using(hq.db.alias).order_by("kind"))


def test_each_station_alert_opens_once_with_its_text(hq: HqStore, tmp_path: Path) -> None:
    from hq.alerts.models import AlertEntry

    journal = station_journal(tmp_path)
    res = hq.ingest(journal)
    assert sorted(a["text"] for a in res.alerts) == sorted([AWAY_TEXT, CROWD_TEXT])
    hq.ingest(journal)  # the same events again (QoS 1 duplicates, a resend)
    (away,) = [ev for ev, _r in journal if ev["type"] == Kind.AWAY.value]
    forged = {**away, "id": away["id"][:-4] + "ffff"}  # a replay under a new id
    assert hq.ingest([(forged, True)]).alerts == []
    assert [p[3] for p in hq.problems()] == ["replay"]
    hq.reverify()  # a re-walk of every chain opens nothing again
    alerts = _alerts(hq)
    assert [(a.kind, a.site, a.device, a.window_no, a.text, a.state) for a in alerts] == [
        ("station.crowded", "s1", "station", None, CROWD_TEXT, "open"),
        ("window.away_too_long", "s1", "station", 1, AWAY_TEXT, "open")]
    assert {a.id for a in alerts} == {ev["id"] for ev, _r in journal
                                      if ev["type"] in {k.value for k in Kind}}
    assert alerts[0].data_dict == {"waiting": 5, "longest_wait_min": 17, "limit_waiting": 5,
                                   "limit_wait_min": 30}
    assert [(e.actor, e.action) for e in AlertEntry.objects.using(hq.db.alias)] == [
        ("系统", "opened")] * 2


def test_a_window_cannot_raise_a_station_alert(hq: HqStore, tmp_path: Path) -> None:
    counter = Store(tmp_path / "w01.db", site="s1", device="w01")
    counter.append([Draft(EventType.WINDOW_AWAY_TOO_LONG, {
        "window": 1, "away_min": 99, "backup": 0, "limit_min": 15})])
    events = [(dict(ev), False) for ev in counter.events()]
    counter.close()
    assert hq.ingest(events).new == 1
    assert _alerts(hq) == []


def test_the_texts() -> None:
    assert describe(Kind.AWAY, {"window": 3, "away_min": 17.9, "backup": 1,
                                "limit_min": 15}) == \
        "3号窗口离岗已 17 分钟（上限 15 分钟），由 1号窗口代办"
    assert describe(Kind.AWAY, {"window": 3, "away_min": 20, "backup": 0, "limit_min": 15}) \
        == "3号窗口离岗已 20 分钟（上限 15 分钟），无代办窗口"
    assert describe(Kind.CROWDED, {"waiting": 42, "longest_wait_min": 51, "limit_waiting": 30,
                                   "limit_wait_min": 45}) == \
        "候办 42 人，最长已等 51 分钟（阈值 30 人 / 45 分钟）"
    assert describe(Kind.CROWDED, {"waiting": "many"}) == \
        "候办 ? 人，最长已等 ? 分钟（阈值 ? 人 / ? 分钟）"  # shown, not dropped


def test_the_notice_defaults_to_two_hours_on_rounded_up_to_the_half_hour() -> None:
    def at(hhmm: str) -> datetime:
        return datetime.fromisoformat(f"2026-12-02T{hhmm}:00").replace(tzinfo=ZONE)

    assert default_until(at("10:00")) == at("12:00")
    assert default_until(at("10:10")) == at("12:30")
    assert default_until(at("21:40")) == at("23:30")  # never into tomorrow
    assert default_until(at("23:40")) == at("23:59")
    assert default_text(at("18:30")) == "今日办理人数较多，本所延时服务至 18:30，请耐心等候。"
    with pytest.raises(ValueError, match="已过"):
        end_today(at("10:10"), at("09:00").time())


def _users(alias: str) -> tuple[Any, Any, Any]:
    from django.contrib.auth.models import User

    from hq.accounts.users import add_user

    add_user(alias, "chief1", "chief", "chief1-password", station="s1")
    add_user(alias, "chief2", "chief", "chief2-password", station="s2")
    add_user(alias, "editor1", "editor", "editor1-password")
    return tuple(User.objects.using(alias).get(username=n)  # type: ignore[return-value]
                 for n in ("chief1", "chief2", "editor1"))


def test_acknowledging_records_who_and_when(hq: HqStore, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from hq.alerts.actions import acknowledge
    from hq.alerts.models import AlertEntry, Refused

    a = hq.db.alias
    hq.ingest(station_journal(tmp_path))
    away = _alerts(hq)[1]
    chief1, chief2, editor = _users(a)
    monkeypatch.setenv("KIOSK_HQ_NOW", NOW)
    for other in (chief2, editor):  # another station's chief; a role without alerts
        with pytest.raises(Refused, match="不能处理"):
            acknowledge(away.pk, other, "", using=a)
    done = acknowledge(away.pk, chief1, "已安排 2号窗口接替", using=a)
    assert (done.state, done.acknowledged_by, done.remark) == (
        "acknowledged", "chief1", "已安排 2号窗口接替")
    assert done.acknowledged_at == datetime.fromisoformat(NOW)
    with pytest.raises(Refused, match="已由 chief1 知悉"):
        acknowledge(away.pk, chief1, "again", using=a)
    record = list(AlertEntry.objects.using(a).filter(alert=away))
    assert [(e.actor, e.action, e.note) for e in record] == [
        ("系统", "opened", "站点上报"), ("chief1", "acknowledged", "已安排 2号窗口接替")]
    record[1].note = "changed"
    with pytest.raises(ValueError, match="never changed"):
        record[1].save(using=a)
    with pytest.raises(ValueError, match="never deleted"):
        record[1].delete()


@pytest.mark.broker
def test_the_push_publishes_the_notices_document(hq: HqStore, tmp_path: Path,
                                                 broker: Mosquitto,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from hq.alerts.actions import push_notice
    from hq.alerts.models import AlertEntry, Refused
    from hq.broker_env import broker_options
    from hq.publish.models import ContentVersion, Notice

    a = hq.db.alias
    hq.ingest(station_journal(tmp_path))
    crowded, away = _alerts(hq)
    chief1, chief2, _editor = _users(a)
    monkeypatch.setenv("KIOSK_HQ_NOW", NOW)
    now = datetime.fromisoformat(NOW)
    until = now.replace(hour=18, minute=30)
    text = default_text(until)
    opts = broker_options("test-push", {"KIOSK_HQ_PORT": str(broker.port)})
    with pytest.raises(Refused, match="只有本所所长"):
        push_notice(crowded.pk, chief2, text, until, opts, using=a)
    with pytest.raises(Refused, match="候办人数过多"):
        push_notice(away.pk, chief1, text, until, opts, using=a)
    done = push_notice(crowded.pk, chief1, text, until, opts, using=a)
    assert (done.version, done.error) == ("20261202.1", "")
    doc = json.loads(retained(broker.port, "kiosk/v1/s1/notices"))
    (notice,) = doc["notices"]
    assert notice["text"] == text and notice["level"] == "urgent"
    assert notice["until"] == "2026-12-02T18:30:00+08:00"
    row = ContentVersion.objects.using(a).get(site="s1", kind="notices")
    assert row.published_by == "chief1" and json.loads(row.document) == doc
    # With the broker gone: nothing published, the notice not kept, the page's words.
    down = broker_options("test-push", {"KIOSK_HQ_PORT": str(free_port())})
    failed = push_notice(crowded.pk, chief1, "再次推送", until, down, using=a)
    assert failed.version == "" and "Fix:" in failed.error
    assert list(Notice.objects.using(a).values_list("text", flat=True)) == [text]
    # The next day's push removes yesterday's ended one (a counter takes 100 at most).
    monkeypatch.setenv("KIOSK_HQ_NOW", "2026-12-03T10:00:00+08:00")
    tomorrow = until.replace(day=3)
    assert push_notice(crowded.pk, chief1, "明日延时", tomorrow, opts, using=a).version == \
        "20261203.1"
    assert list(Notice.objects.using(a).values_list("text", flat=True)) == ["明日延时"]
    assert [(e.actor, e.action) for e in AlertEntry.objects.using(a).filter(alert=crowded)] \
        == [("系统", "opened"), ("chief1", "notice_pushed"), ("chief1", "notice_failed"),
            ("chief1", "notice_pushed")]
    pushed = AlertEntry.objects.using(a).filter(alert=crowded, action="notice_pushed").first()
    assert pushed is not None and pushed.note == f"「{text}」，显示至 18:30，公告版本 20261202.1"


def test_a_chief_gets_404_for_another_stations_alert(console: Console, tmp_path: Path,
                                                     browser_page: Any) -> None:
    from hq.alerts.models import Alert

    console.store.ingest(station_journal(tmp_path))
    alerts = Alert.objects.using(console.alias)
    crowded = alerts.get(site="s1", kind=Kind.CROWDED.value)
    page = browser_page
    login(page, console, "other-chief", console.add_user("other-chief", "chief", station="s2"))
    page.goto(console.url + "/alerts/")
    assert "没有符合条件的告警" in page.inner_text("table.alerts")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    for path in (f"/alerts/{crowded.pk}/", f"/alerts/{crowded.pk}/push"):
        assert page.request.get(console.url + path).status == 404
        answer = page.request.post(console.url + path, form={
            "csrfmiddlewaretoken": token or "", "remark": "x", "text": "x", "until": "23:00"})
        assert answer.status == 404, path
    assert page.request.get(console.url + "/alerts/?site=s1").status == 404
    crowded.refresh_from_db(using=console.alias)
    assert crowded.state == "open" and crowded.record.using(console.alias).count() == 1
