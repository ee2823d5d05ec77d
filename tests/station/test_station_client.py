"""The station client on a real Mosquitto: a request is resent with the same rid until it
is answered, each response reaches the request with its correlation, and the retained
board is kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from drivers.station.client import StationClient
from tests.station.conftest import station_config
from tests.station.responder import Responder
from tests.sync.conftest import Mosquitto


def client_for(tmp_path: Path, broker: Mosquitto, device: str = "w01",
               timeout_s: float = 3.0, resend_s: float = 0.3) -> StationClient:
    c = StationClient(station_config(tmp_path, broker.port, device, prefix="W1",
                                     timeout_s=timeout_s), resend_s=resend_s)
    c.start()
    assert c.connected.wait(10)
    return c


def test_a_lost_request_is_resent_with_the_same_rid_and_taken_once(
        tmp_path: Path, broker: Mosquitto, responder: Responder) -> None:
    responder.drop = 1  # the first copy is lost
    c = client_for(tmp_path, broker)
    try:
        resp = c.request("issue", service="id_card.renew", priority=0, appointment="")
        assert resp is not None and resp["ok"] and resp["ticket"]["number"] == "A001"
        rids = [r["rid"] for r in responder.ops("issue")]
        assert len(rids) >= 2 and len(set(rids)) == 1 == len(responder.tickets)
        assert {rid for rid, _ in c.sent} == {resp["rid"]}
        # The request as docs/station.md writes it.
        req = responder.requests[0]
        assert (req["v"], req["device"], req["op"]) == (1, "w01", "issue")
        assert len(req["rid"]) == 36 and req["rid"][14] == "7"  # a UUIDv7
    finally:
        c.close()


def test_concurrent_requests_get_their_own_responses(
        tmp_path: Path, broker: Mosquitto, responder: Responder) -> None:
    c = client_for(tmp_path, broker)
    got: dict[int, str] = {}

    def take(i: int) -> None:
        resp = c.request("issue", service="id_card.renew", priority=0, appointment="")
        assert resp is not None
        got[i] = resp["ticket"]["number"]

    try:
        threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(got.values()) == [f"A00{i}" for i in range(1, 7)]
        # Each answer is the one stored for its rid.
        for rid, _ in c.sent:
            assert responder.answered[rid]["rid"] == rid
    finally:
        c.close()


def test_no_answer_within_the_timeout_is_none(tmp_path: Path, broker: Mosquitto,
                                              responder: Responder) -> None:
    responder.drop = 100  # the station hangs: connected, says nothing
    c = client_for(tmp_path, broker, timeout_s=0.5, resend_s=0.2)
    try:
        assert c.request("call_next", window=1) is None
        assert len(c.sent) >= 2 and len({rid for rid, _ in c.sent}) == 1
    finally:
        c.close()


def test_an_offline_station_falls_back_at_once(tmp_path: Path, broker: Mosquitto,
                                               responder: Responder) -> None:
    c = client_for(tmp_path, broker, timeout_s=30.0)
    gone = threading.Event()

    def state(online: bool) -> None:
        if not online:
            gone.set()

    c.subscribe_state(state)
    try:
        responder.stop()  # its retained state: {"online": false}
        assert gone.wait(10)
        assert c.request("issue", service="id_card.renew", priority=0,
                         appointment="") is None
        assert c.sent == []  # nothing published, no 30 s wait
    finally:
        c.close()


def test_the_retained_board_is_kept(tmp_path: Path, broker: Mosquitto,
                                    responder: Responder) -> None:
    c = client_for(tmp_path, broker)
    seen = threading.Event()
    boards: list[dict[str, object]] = []

    def on_board(b: dict[str, object]) -> None:
        boards.append(b)
        if b.get("called"):
            seen.set()

    c.subscribe_board(on_board)
    try:
        assert c.request("issue", service="id_card.renew", priority=0, appointment="")
        assert c.request("call_next", window=1)
        assert seen.wait(10)
        assert c.board is not None and c.board["windows"][0]["serving"] == "A001"
        wait_for: Callable[[], bool] = lambda: c.online is True  # noqa: E731
        assert responder.wait(wait_for, 5)
    finally:
        c.close()


def test_a_request_outlives_a_broker_restart_with_its_rid(
        tmp_path: Path, broker: Mosquitto, responder: Responder) -> None:
    c = client_for(tmp_path, broker, timeout_s=15.0, resend_s=0.3)
    got: list[dict[str, object] | None] = []
    responder.drop = 10**6  # in flight: the station says nothing until the restart
    stopped, back = threading.Event(), threading.Event()

    def state(online: bool) -> None:
        if online and stopped.is_set():
            back.set()

    c.subscribe_state(state)
    try:
        t = threading.Thread(target=lambda: got.append(
            c.request("issue", service="id_card.renew", priority=0, appointment="")))
        t.start()
        assert responder.wait(lambda: len(responder.requests) >= 1, 10)
        # The broker shutting down sends the responder's Last Will {"online": false} to
        # the client: a request already in flight keeps its rid and is resent.
        broker.stop()
        stopped.set()
        responder.drop = 0
        broker.start()  # same port; client and responder reconnect
        t.join(20)
        assert got and got[0] is not None and got[0]["ok"]
        assert len({r["rid"] for r in responder.ops("issue")}) == 1 == len(responder.tickets)
        # The station's own "online" once it reconnected (whether or not the client heard
        # the Last Will first): new requests go to it again.
        assert back.wait(10) and c.online is True
    finally:
        c.close()
