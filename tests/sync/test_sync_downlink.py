"""Downlink validation and application, the PUBACK rule, shedding, health and state.

Most tests feed messages straight to the handlers (no broker needed); one round trip
runs through a real Mosquitto.
"""

from __future__ import annotations

import contextlib
import json
import queue
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from device.config import Config
from device.errors import ParseError
from device.events import Draft, EventType
from device.store import Store
from sync import downlink, health, schema
from sync.schema import CONTENT_SCHEMAS, validate
from sync.uplink import Syncer
from tests.sync.conftest import Mosquitto, Running, device_config, fill_outbox, unsent

CATALOGUE = {"version": "2026.11.2", "title": "办事指南", "services": [
    {"code": "id_card.renew", "name": "居民身份证换领", "materials": ["原身份证"],
     "fees": [{"item": "工本费", "yuan": 20, "basis": "价格文件"}]}]}
ROSTER = {"version": "r7", "officers": [{"badge": "000001", "name": "李明", "role": "窗口民警"}]}
APPOINTMENTS = {"version": "a1", "date": "2026-11-26", "appointments": [
    {"code": "20261001", "service": "id_card.renew", "slot": "09:00-09:30",
     "channel": "wechat"}]}
NOTICES = {"version": "n1", "notices": [{"id": "n-1", "text": "今日下午系统维护", "level": "info"}]}
RESULTS = {"version": "20261202.1", "published_at": "2026-12-02T10:00:00+08:00",
           "month": "2026-11", "station": {"name": "城关派出所", "rated": 1234,
                                           "good_rate": 98.5, "bad_rate": 0.4, "bad_total": 5,
                                           "bad_closed": 5, "bad_on_time": 4},
           "windows": [{"device": "w01", "name": "1号窗口", "rated": 0, "bad_total": 0,
                        "bad_closed": 0, "bad_on_time": 0}]}
HOLIDAYS = {"version": "20261202.1", "years": {
    "2027": {"holidays": ["2027-01-01", "2027-02-10", "2027-02-11"],
             "workdays": ["2027-02-06"]}}}
DOCS = {"catalogue": CATALOGUE, "roster": ROSTER, "appointments": APPOINTMENTS,
        "notices": NOTICES, "results": RESULTS, "holidays": HOLIDAYS}



def content_rows(s: Syncer) -> list[tuple[Any, ...]]:
    return s.store.conn.execute(
        "SELECT kind, version, body FROM site_content ORDER BY kind").fetchall()


def test_valid_content_is_applied_once_per_version(syncer: Syncer) -> None:
    t = syncer.topics
    for kind, doc in DOCS.items():
        topic, result = syncer.handle_message(t.content(kind), json.dumps(doc).encode()) or ("", {})
        assert topic == f"kiosk/v1/s1/w01/content/{kind}/result"
        assert result["ok"] and result["applied"] and result["version"] == doc["version"]
        validate(result, schema.CONTENT_RESULT_SCHEMA)
    rows = content_rows(syncer)
    assert [(k, v) for k, v, _ in rows] == sorted((k, d["version"]) for k, d in DOCS.items())
    assert json.loads(dict((k, b) for k, _, b in rows)["catalogue"]) == CATALOGUE
    # The retained message again after a reconnect: accepted, nothing written.
    again = syncer.handle_message(t.content("catalogue"), json.dumps(CATALOGUE).encode())
    assert again is not None and again[1]["ok"] and not again[1]["applied"]
    assert content_rows(syncer) == rows


@pytest.mark.parametrize(("kind", "payload", "reason"), [
    ("catalogue", b"\xff\xfe", "not UTF-8"),
    ("catalogue", b"{not json", "not JSON"),
    ("catalogue", b"[1, 2]", "must be a JSON object"),
    ("catalogue", json.dumps({**CATALOGUE, "version": ""}).encode(), "shorter than 1"),
    ("catalogue", json.dumps({**CATALOGUE, "services": [{"code": "x", "name": "n"}]}).encode(),
     "missing required field 'materials'"),
    ("catalogue", json.dumps({**CATALOGUE, "services": [
        {**CATALOGUE["services"][0], "code": "BAD CODE"}]}).encode(), "does not match"),
    ("roster", json.dumps({"version": "r8", "officers": [{"badge": 1, "name": "x"}]}).encode(),
     "expected string"),
    ("appointments", json.dumps({**APPOINTMENTS, "appointments": [
        {"code": "1", "service": "s", "slot": "9am", "id_number": "4403"}]}).encode(),
     "unknown field 'id_number'"),
    ("notices", json.dumps({"version": "n2", "notices": [{"id": "x", "text": "t",
                                                          "level": "panic"}]}).encode(),
     "not one of"),
    ("notices", b"{" * 100_000, "not JSON"),
    ("notices", b" " * (downlink.MAX_CONTENT_BYTES + 1), "the limit is"),
])
def test_bad_content_is_rejected_with_a_reason_and_changes_nothing(
        syncer: Syncer, kind: str, payload: bytes, reason: str) -> None:
    syncer.handle_message(syncer.topics.content(kind), json.dumps(DOCS[kind]).encode())
    before = content_rows(syncer)
    out = syncer.handle_message(syncer.topics.content(kind), payload)
    assert out is not None
    topic, result = out
    assert topic.endswith(f"/content/{kind}/result")
    assert result["ok"] is False and result["applied"] is False
    assert reason in result["error"]
    assert content_rows(syncer) == before


def test_commands_answer_on_their_result_topic(syncer: Syncer, tmp_path: Path) -> None:
    fill_outbox(syncer.cfg, 10)
    syncer.store.mark_sent(list(range(1, 11)))
    t = syncer.topics
    topic, res = syncer.handle_message(t.command("ping"), b'{"id": "q1"}') or ("", {})
    assert topic == "kiosk/v1/s1/w01/cmd/ping/result"
    assert res == {"name": "ping", "ok": True, "id": "q1", "ts": res["ts"],
                   "result": {"head_seq": 10, "unsent": 0}}
    _, res = syncer.handle_message(t.command("resend"),
                                   b'{"id": "q2", "from_seq": 4, "to_seq": 6}') or ("", {})
    assert res["ok"] and res["result"] == {"requeued": 3}
    assert unsent(syncer.cfg) == 3
    _, res = syncer.handle_message(t.command("resend"), b'{"id": "q3", "from_seq": 0}') or (
        "", {})
    assert not res["ok"] and "below 1" in res["error"] and res["id"] == "q3"
    topic, res = syncer.handle_message(t.command("selfdestruct"), b'{"id": "q4"}') or ("", {})
    assert topic.endswith("/cmd/selfdestruct/result")
    assert not res["ok"] and "unknown command" in res["error"]
    _, res = syncer.handle_message(t.command("ping"), b"garbage") or ("", {})
    assert not res["ok"] and "id" not in res


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([*DOCS, "cmd/ping", "cmd/resend", "cmd/x"]),
       payload=st.one_of(st.binary(max_size=300),
                         st.recursive(st.none() | st.booleans() | st.integers() |
                                      st.floats(allow_nan=False) | st.text(max_size=20),
                                      lambda c: st.lists(c, max_size=4) |
                                      st.dictionaries(st.sampled_from(
                                          ["version", "services", "officers", "notices",
                                           "appointments", "date", "id", "from_seq", "code",
                                           "name", "materials", "text", "month", "station",
                                           "rated", "years", "2027", "holidays",
                                           "workdays"]), c, max_size=5),
                                      max_leaves=20).map(lambda v: json.dumps(v).encode())))
def test_downlink_never_crashes_on_garbage(syncer: Syncer, kind: str, payload: bytes) -> None:
    topic = (syncer.topics.root + "/" + kind) if kind.startswith("cmd/") else (
        syncer.topics.content(kind))
    before = content_rows(syncer)
    out = syncer.handle_message(topic, payload)
    if out is None:  # an empty retained message (HQ cleared it): ignored, nothing changes
        assert payload == b"" and not kind.startswith("cmd/")
        assert content_rows(syncer) == before
        return
    result = out[1]
    if not result["ok"]:
        assert result["error"]
        assert content_rows(syncer) == before
    elif not kind.startswith("cmd/"):
        # Whatever got applied validates against the published schema.
        validate(json.loads(payload), CONTENT_SCHEMAS[kind])


@given(payload=st.binary(max_size=200))
def test_parsers_raise_only_parse_error(payload: bytes) -> None:
    for kind in DOCS:
        with contextlib.suppress(ParseError):
            downlink.parse_content(kind, payload)
    with contextlib.suppress(ParseError):
        downlink.parse_command("resend", payload)


def test_publish_marked_sent_only_after_a_good_puback(syncer: Syncer) -> None:
    fill_outbox(syncer.cfg, 4)
    syncer.outbox._pending = {7: [1, 2], 8: [3, 4]}
    syncer.outbox._pending_count = 2
    refused = ReasonCode(PacketTypes.PUBACK, identifier=135)  # Not authorized
    syncer._on_publish(None, None, 7, refused, None)
    syncer._on_publish(None, None, 8, ReasonCode(PacketTypes.PUBACK, identifier=0), None)
    syncer.outbox.drain_acks()
    syncer.outbox.flush_marks(force=True)
    sent = dict(syncer.store.conn.execute("SELECT seq, sent_at IS NOT NULL FROM events"))
    assert sent == {1: 0, 2: 0, 3: 1, 4: 1}
    assert (syncer.stats.refused, syncer.stats.acked) == (1, 1)


def test_full_disk_sheds_telemetry_never_ratings(tmp_path: Path) -> None:
    import dataclasses

    cfg = device_config(tmp_path, 1)
    cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, max_db_mb=1))
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    keep: list[str] = []
    for i in range(30):
        store.append([Draft(EventType.SLIP_PRINTED, {"pad": "x" * 300, "n": j})
                      for j in range(100)])
        keep += [e.id for e in store.append([
            Draft(EventType.RATING_GIVEN, {"case_no": f"C{i}", "level": "satisfied"}),
            Draft(EventType.COMMENT_SUBMITTED, {"text": "很好" * 20})])]
    store.close()
    s = Syncer(cfg)
    try:
        assert s.store.used_bytes() > 1024 * 1024
        shed = s.check_disk()
        assert shed > 0
        assert s.store.used_bytes() <= 1024 * 1024
        rows = s.store.conn.execute("SELECT id, type, body FROM events ORDER BY seq").fetchall()
        ids = {r[0] for r in rows}
        assert set(keep) <= ids
        fault = json.loads(rows[-1][2])
        assert fault["type"] == "device.fault"
        assert fault["data"]["fault"] == "db_full" and fault["data"]["shed_events"] == shed
    finally:
        s.close()


def test_health_and_state_report_without_personal_data(tmp_path: Path) -> None:
    cfg = device_config(tmp_path, 1)
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    store.append([Draft(EventType.DEVICE_FAULT, {"component": "printer", "fault": "paper_out"}),
                  Draft(EventType.DEVICE_FAULT, {"component": "sign", "fault": "silent"}),
                  Draft(EventType.DEVICE_RECOVERED, {"component": "sign"})],
                 state={"mode": "away", "officer": "000001", "away": {
                     "reason": "开会", "return_at": "2026-11-26T10:00:00+08:00",
                     "phone": "123", "backup": "2号窗口", "since": "x"}})
    store.conn.execute("INSERT INTO queue_tickets (day, number, service, issued_ts) VALUES "
                       "('2026-11-26', 'A001', 's', 0), ('2026-11-26', 'A002', 's', 0)")
    store.close()
    thermal = tmp_path / "thermal" / "thermal_zone0"
    thermal.mkdir(parents=True)
    (thermal / "temp").write_text("51234\n")
    reader = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id,
                   check_integrity=False)  # as kiosk-sync opens it
    ts = json.loads(reader.conn.execute(
        "SELECT body FROM events WHERE seq = 1").fetchone()[0])["ts"]
    from datetime import datetime

    now = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() + 90
    h = health.health(reader, now)
    assert h["outbox_depth"] == 3 and h["oldest_unsent_age_s"] == pytest.approx(90, abs=1)
    assert h["head_seq"] == 3
    assert h["peripherals"]["printer"]["ok"] is False
    assert h["peripherals"]["sign"]["ok"] is True
    assert h["people_waiting"] == 2
    assert health.cpu_temperature_c(tmp_path / "thermal") == 51.2
    st_ = health.state(reader, online=True, now=now)
    assert st_["online"] and st_["mode"] == "away" and st_["officer"] == "000001"
    assert "phone" not in st_["away"]
    reader.close()


@pytest.mark.broker
def test_content_round_trip_through_the_broker(tmp_path: Path, broker: Mosquitto,
                                               running: list[Running]) -> None:
    cfg: Config = device_config(tmp_path, broker.port)
    results: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    states: queue.Queue[dict[str, Any]] = queue.Queue()
    hq = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hq-tool",
                     protocol=mqtt.MQTTv5)

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        doc = json.loads(m.payload)
        (states.put(doc) if m.topic.endswith("/state") else results.put((m.topic, doc)))

    hq.on_message = on_message
    hq.connect("127.0.0.1", broker.port)
    hq.subscribe([("kiosk/v1/s1/w01/content/+/result", 1), ("kiosk/v1/s1/w01/state", 1)])
    hq.loop_start()
    try:
        # Retained before the counter connects: it gets it on subscribe.
        hq.publish("kiosk/v1/s1/catalogue", json.dumps(CATALOGUE), qos=1,
                   retain=True).wait_for_publish(5)
        r = Running(cfg)
        running.append(r)
        topic, res = results.get(timeout=10)
        assert topic == "kiosk/v1/s1/w01/content/catalogue/result"
        assert res["ok"] and res["applied"] and res["version"] == "2026.11.2"
        hq.publish("kiosk/v1/s1/roster", b'{"version": 3}', qos=1)
        topic, res = results.get(timeout=10)
        assert topic.endswith("/content/roster/result") and not res["ok"]
        assert res["error"] == "roster: missing required field 'officers'"
        # The retained state carries the new catalogue version.
        deadline_state = states.get(timeout=10)
        while deadline_state.get("catalogue_version") != "2026.11.2":
            deadline_state = states.get(timeout=10)
        assert deadline_state["online"] is True
        r.close()
        running.remove(r)
        offline = states.get(timeout=10)
        assert offline == {"online": False}
    finally:
        hq.loop_stop()
        hq.disconnect()
