"""The station's rules on a real station.db: priority order, B-post routing to the
backup and back, measured wait estimates, the requeue rule, exactly-once rids, no
number twice (Hypothesis), reconcile and the HQ alerts."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.config import StationConfig
from station.service import StationService
from station.store import StationStore
from tests.station.server_support import Clock, Desk, desk_fixture, station_cfg_fixture  # noqa: F401


def numbers(desk: Desk, window: int) -> list[str]:
    """call_next then done at ``window`` until nothing waits for it."""
    out = []
    while (t := desk.ok("call_next", "w", window=window)["ticket"]) is not None:
        out.append(t["number"])
        desk.clock.advance(60)
        desk.ok("done", "w", window=window)
    return out


def test_green_channel_then_appointments_then_the_earliest_issued(desk: Desk) -> None:
    for priority in (0, 0, 1, 2, 0, 1):
        desk.ok("issue", service="id_card.renew", priority=priority)
        desk.clock.advance(1)
    assert numbers(desk, 1) == ["A004", "A003", "A006", "A001", "A002", "A005"]


def test_a_ticket_waits_for_every_window_serving_its_service(desk: Desk) -> None:
    out = desk.ok("issue", service="hukou.birth")
    assert out["windows"] == [2, 3] and out["ticket"]["number"] == "B001"
    assert desk.ok("call_next", "w3", window=3)["ticket"]["number"] == "B001"
    assert desk.ok("call_next", "w2", window=2)["ticket"] is None
    assert desk.ok("call_next", "w1", window=1)["ticket"] is None


def test_away_routes_to_the_backup_and_back_and_the_board_says_so(desk: Desk) -> None:
    for _ in range(3):
        desk.ok("issue", service="id_card.renew")
    away = desk.ok("away", "w01", window=1, backup=0)  # 0: the configured backup, 2
    assert away["moved"] == ["A001", "A002", "A003"] and away["backup"] == 2
    board = desk.service.board()
    assert board["notices"] == ["1号窗口暂离，请到2号窗口办理"]
    assert board["windows"][0] == {"window": 1, "serving": "", "away": True, "backup": 2,
                                   "services": ["id_card.renew"]}
    assert desk.send("call_next", "w01", window=1)["code"] == "window_away"
    assert desk.ok("call_next", "w02", window=2)["ticket"]["number"] == "A001"
    assert desk.service.board()["windows"][1]["serving"] == "A001"
    desk.ok("done", "w02", window=2)
    back = desk.ok("back", "w01", window=1)
    assert back["returned"] == ["A002", "A003"]
    assert desk.service.board()["notices"] == []
    assert desk.ok("call_next", "w02", window=2)["ticket"] is None
    assert desk.ok("call_next", "w01", window=1)["ticket"]["number"] == "A002"


def test_tickets_another_present_window_serves_stay_with_it(desk: Desk) -> None:
    desk.ok("issue", service="hukou.birth")
    assert desk.ok("away", "w02", window=2)["moved"] == []  # window 3 serves it
    assert desk.ok("call_next", "w01", window=1)["ticket"] is None
    assert desk.ok("call_next", "w03", window=3)["ticket"]["number"] == "B001"


def test_wait_estimates_come_from_measured_service_times(desk: Desk) -> None:
    cfg = desk.service.cfg
    first = desk.ok("issue", service="id_card.renew")
    assert first["ahead"] == 0 and first["est_wait_min"] == 0
    second = desk.ok("issue", service="id_card.renew")
    # Before any measurement: the documented default per case.
    assert second["ahead"] == 1 and second["est_wait_min"] == cfg.default_service_min
    desk.ok("call_next", window=1)
    desk.clock.advance(120)
    assert desk.ok("done", window=1)["service_s"] == 120.0
    for _ in range(3):
        desk.ok("issue", service="id_card.renew")
    fourth = desk.ok("issue", service="id_card.renew")
    assert fourth["ahead"] == 4 and fourth["est_wait_min"] == 8  # 4 x 2 minutes


def test_no_show_goes_back_behind_the_next_tickets_then_is_dropped(desk: Desk) -> None:
    for _ in range(5):
        desk.ok("issue", service="id_card.renew")
        desk.clock.advance(1)
    assert desk.ok("call_next", window=1)["ticket"]["number"] == "A001"
    out = desk.ok("no_show", window=1)
    assert out["requeued"] and out["ticket"]["status"] == "waiting"
    # Behind three waiting tickets (no_show_requeue_after = 3).
    order = numbers(desk, 1)
    assert order == ["A002", "A003", "A004", "A001", "A005"]
    desk.ok("issue", service="id_card.renew")
    desk.ok("call_next", window=1)
    assert desk.ok("no_show", window=1)["requeued"]
    desk.ok("call_next", window=1)
    dropped = desk.ok("no_show", window=1)
    assert not dropped["requeued"] and dropped["ticket"]["status"] == "no_show"


def test_recall_call_and_transfer(desk: Desk) -> None:
    for _ in range(3):
        desk.ok("issue", service="id_card.renew")
    assert desk.send("recall", window=1)["code"] == "no_called_ticket"
    out = desk.ok("call", window=1, number="A003")
    called = out["ticket"]
    assert called["number"] == "A003" and called["status"] == "called" and out["skipped"] == 2
    assert desk.send("call_next", window=1)["code"] == "busy"
    recalled = desk.ok("recall", window=1)["ticket"]
    assert (recalled["number"], recalled["recalls"]) == ("A003", 1)
    assert desk.send("call", window=2, number="A003")["code"] == "ticket_not_waiting"
    # The served ticket needs another service: it waits for that service's windows.
    out = desk.ok("transfer", window=1, number="A003", service="hukou.birth")
    moved = out["ticket"]
    assert out["from_service"] == "id_card.renew"
    assert moved["service"] == "hukou.birth" and moved["status"] == "waiting"
    assert desk.ok("call_next", window=3)["ticket"]["number"] == "A003"
    to_two = desk.ok("transfer", window=1, number="A002", to_window=2)["ticket"]
    assert to_two["status"] == "waiting"
    assert desk.ok("call_next", window=1)["ticket"]["number"] == "A001"
    assert desk.ok("call_next", window=2)["ticket"]["number"] == "A002"
    assert desk.send("transfer", window=1, number="A001", service="x", to_window=2)[
        "error"] == "send either field 'service' or field 'to_window'"


def test_a_repeated_rid_gets_the_stored_response_and_changes_nothing(desk: Desk) -> None:
    req = desk.request("issue", service="id_card.renew")
    first = desk.service.handle(req)
    version = desk.service.version
    desk.clock.advance(30)
    again = desk.service.handle(req)
    assert again == first and desk.service.version == version
    assert len(desk.service.store.tickets(desk.service.today())) == 1
    call = desk.request("call_next", window=1)
    assert desk.service.handle(call) == desk.service.handle(call)
    assert desk.service.store.tickets(desk.service.today(), "waiting") == []


def test_bad_requests_name_the_field_and_are_never_fatal(desk: Desk) -> None:
    assert desk.send("issue", service="nope")["code"] == "service_unknown"
    assert "field 'priority'" in desk.send("issue", service="id_card.renew",
                                           priority=7)["error"]
    assert "field 'window'" in desk.send("call_next", window="1")["error"]
    assert desk.send("call_next", window=9)["code"] == "window_unknown"
    assert desk.send("fly")["code"] == "unknown_op"
    assert desk.service.handle({"v": 1, "op": "issue"})["error"].startswith("missing field 'rid'")
    bad = desk.service.handle({"v": 1, "rid": "r1", "device": "d\x1b", "op": "issue"})
    assert bad["code"] == "bad_request" and "control character" in bad["error"]


def test_reconcile_takes_each_ticket_once(desk: Desk) -> None:
    day = desk.service.today()
    now = desk.clock.now
    # As drivers/station/ sends its block: called_ts null when not called, gone.
    block = [{"number": "E001", "day": day, "service": "id_card.renew", "priority": 0,
              "appointment": "", "issued_ts": now - 600, "called_ts": None, "window": 0,
              "gone": ""},
             {"number": "E002", "day": day, "service": "hukou.birth", "priority": 0,
              "appointment": "", "issued_ts": now - 500, "called_ts": None, "window": 0,
              "gone": ""},
             {"number": "E003", "day": day, "service": "hukou.birth", "priority": 0,
              "appointment": "", "issued_ts": now - 400, "called_ts": None, "window": 0,
              "gone": "window:2"}]
    first = desk.ok("reconcile", tickets=block)
    assert (first["taken"], first["already"], first["refused"]) == (
        ["E001", "E002", "E003"], [], [])
    # A window called E002 from the entrance's list while the station was away: it
    # served it there, so the station counts it done and keeps the window free.
    called = {**block[1], "called_ts": now - 60, "window": 3}
    again = desk.ok("reconcile", "w03", tickets=[block[0], called])
    assert again["taken"] == ["E002"] and again["already"] == ["E001"]
    assert desk.service.store.ticket(day, "E002")["status"] == "done"  # type: ignore[index]
    assert desk.ok("call_next", window=1)["ticket"]["number"] == "E001"
    assert desk.ok("call_next", window=3)["ticket"] is None  # E003 waits for window 2 only
    assert desk.ok("call_next", window=2)["ticket"]["number"] == "E003"
    own = {**block[0], "number": "W1001", "called_ts": now - 30, "window": 1}
    forged = {**block[0], "number": "A900"}
    mixed = desk.ok("reconcile", "w01", tickets=[own, forged])
    assert mixed["taken"] == ["W1001"] and [r["number"] for r in mixed["refused"]] == ["A900"]
    assert "tickets[1]: field 'number'" in mixed["refused"][0]["error"]
    assert desk.service.store.serving(day, 1)["number"] == "E001"  # type: ignore[index]
    assert "field 'gone'" in desk.send("reconcile", tickets=[{**block[0], "gone": "x"}])[
        "error"]
    # A service no window serves: refused while it would wait, taken once a window served
    # it (a brought ticket's service is the window's guess; what happened is history).
    odd = {**block[0], "number": "E004", "service": "passport.new"}
    assert [r["number"] for r in desk.ok("reconcile", tickets=[odd])["refused"]] == ["E004"]
    served = {**odd, "called_ts": now - 10, "window": 2}
    assert desk.ok("reconcile", "w02", tickets=[served])["taken"] == ["E004"]
    assert desk.service.store.ticket(day, "E004")["status"] == "done"  # type: ignore[index]


def test_away_too_long_and_crowded_are_events_for_hq_once(desk: Desk) -> None:
    desk.ok("away", "w01", window=1, backup=2)
    assert not desk.service.tick()
    desk.clock.advance(16 * 60)
    for _ in range(5):
        desk.ok("issue", service="hukou.birth")
    assert desk.service.tick()
    assert not desk.service.tick()  # once per absence, once a day
    types = [e["type"] for e in desk.service.store.journal.events()]
    assert types.count("window.away_too_long") == 1 and types.count("station.crowded") == 1
    assert types.count("ticket.issued") == 5
    (alert,) = [e for e in desk.service.store.journal.events()
                if e["type"] == "window.away_too_long"]
    assert alert["device"] == "station" and alert["data"]["window"] == 1


OPS = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(["id_card.renew", "hukou.birth",
                                                 "id_card.lost"]), st.integers(0, 2)),
    st.tuples(st.sampled_from(["call_next", "done", "no_show", "recall", "away", "back"]),
              st.integers(1, 3), st.just(0)),
    st.tuples(st.just("repeat"), st.integers(0, 50), st.just(0)))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(OPS, min_size=1, max_size=60))
def test_no_number_is_issued_or_called_twice(station_cfg: StationConfig, tmp_path_factory: Any,
                                             script: list[tuple[str, Any, int]]) -> None:
    db = tmp_path_factory.mktemp("hyp") / "station.db"
    cfg = station_cfg
    store = StationStore(db, site=cfg.site)
    clock = Clock()
    svc = StationService(store, cfg, clock=clock)
    sent: list[dict[str, Any]] = []
    issued: dict[str, dict[str, Any]] = {}
    calls: list[tuple[str, int]] = []
    try:
        for op, a, b in script:
            clock.advance(7)
            if op == "repeat":
                if not sent:
                    continue
                req = sent[a % len(sent)]
            elif op == "issue":
                req = {"op": op, "service": a, "priority": b}
            else:
                req = {"op": op, "window": a}
            if op != "repeat":
                req = {"v": 1, "rid": str(uuid.uuid4()), "device": "d", **req}
                sent.append(req)
            out = svc.handle(req)
            assert out["ok"] or out["code"] != "store"
            if out["ok"] and req["op"] == "issue":
                number = out["ticket"]["number"]
                assert issued.setdefault(number, out) == out  # a number once, or a repeat
            if out["ok"] and req["op"] == "call_next" and out["ticket"] and op != "repeat":
                calls.append((out["ticket"]["number"], req["window"]))
        rows = store.tickets(svc.today())
        assert sorted(r["number"] for r in rows) == sorted(issued)
        serving = [r["number"] for r in rows if r["status"] == "called"]
        assert len(serving) == len(set(serving))
    finally:
        store.close()


def test_a_failing_database_is_answered_store_and_changes_nothing(desk: Desk) -> None:
    req = desk.request("issue", service="id_card.renew")
    desk.service.store.journal.conn.close()
    out = desk.service.handle(req)
    assert (out["ok"], out["code"], out["rid"]) == (False, "store", req["rid"])


def test_a_served_ticket_handed_to_another_window_waits_for_it_alone(desk: Desk) -> None:
    desk.ok("issue", service="id_card.renew", appointment="20261001", priority=1)
    desk.ok("call_next", "w01", window=1)
    moved = desk.ok("transfer", "w01", window=1, number="A001", to_window=3)["ticket"]
    assert (moved["status"], moved["window"]) == ("waiting", 0)
    assert desk.ok("call_next", "w01", window=1)["ticket"] is None
    assert desk.ok("call_next", "w02", window=2)["ticket"] is None
    assert desk.ok("call_next", "w03", window=3)["ticket"]["number"] == "A001"
    (row,) = desk.service.store.tickets(desk.service.today())
    assert row["appointment"] == "20261001" and row["issued_by"] == "entrance"


def test_a_block_ticket_that_replaces_a_lost_answer_voids_the_stations_ticket(
        desk: Desk) -> None:
    day = desk.service.today()
    # The station took the entrance's request, but its answer never arrived (the station
    # was killed between the commit and the reply): the entrance printed E001 instead.
    lost = desk.request("issue", service="id_card.renew", priority=0, appointment="")
    ghost = desk.service.handle(lost)["ticket"]["number"]
    never = desk.request("issue", service="hukou.birth", priority=0, appointment="")
    block = [{"number": "E001", "day": day, "service": "id_card.renew", "priority": 0,
              "appointment": "", "issued_ts": desk.clock.now, "called_ts": None,
              "window": 0, "gone": "", "replaces": lost["rid"]},
             # A request that never reached the station: nothing to void for it.
             {"number": "E002", "day": day, "service": "hukou.birth", "priority": 0,
              "appointment": "", "issued_ts": desk.clock.now, "called_ts": None,
              "window": 0, "gone": "", "replaces": never["rid"]}]
    out = desk.ok("reconcile", tickets=block)
    assert out["voided"] == [ghost] and out["taken"] == ["E001", "E002"]
    assert desk.service.store.ticket(day, ghost)["status"] == "void"  # type: ignore[index]
    # Nobody holds the ghost: no window calls it, and the board does not count it.
    assert desk.ok("call_next", window=1)["ticket"]["number"] == "E001"
    assert desk.service.board()["waiting"].get("id_card.renew", 0) == 0
    # Sent again (the device lost this answer too): nothing more changes.
    again = desk.ok("reconcile", tickets=block)
    assert again["voided"] == [] and again["taken"] == []
