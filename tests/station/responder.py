"""A tiny stand-in for kiosk-station that answers the protocol of docs/station.md on a
real broker (the real station process replaces it in the end-to-end test).

It keeps one queue in memory: ``issue`` numbers ``A001``..., ``call_next`` takes the
highest priority, then the earliest issued, among the tickets the window serves (B-post:
a ticket only an away window serves waits for its backup), each ``rid`` is answered once
and its stored response sent again on a resend, and the board is published retained
after every change. ``drop`` ignores that many requests first (a lost message).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import T0

DAY = "2026-11-26"


@dataclass
class Ticket:
    number: str
    service: str
    priority: int
    issued_ts: float
    day: str = DAY
    called: int = 0  # the window that called it
    done: bool = False
    recalls: int = 0

    def json(self) -> dict[str, Any]:
        return {"number": self.number, "service": self.service, "priority": self.priority,
                "issued_ts": self.issued_ts, "day": self.day}


@dataclass
class Responder:
    port: int
    site: str = "s1"
    windows: dict[int, dict[str, Any]] = field(default_factory=dict)  # n -> services, backup
    drop: int = 0
    clock: Callable[[], float] = lambda: T0  # the devices' FakeClock
    tickets: list[Ticket] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # every one received
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # rid -> response
    reconciled: list[str] = field(default_factory=list)  # numbers taken, each once
    away: dict[int, int] = field(default_factory=dict)
    called: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.base = f"kiosk/v1/{self.site}/station"
        self.client: mqtt.Client | None = None

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="station-responder",
                        protocol=mqtt.MQTTv5)
        ready = threading.Event()

        def on_connect(client: mqtt.Client, *_: Any) -> None:
            client.subscribe(f"{self.base}/req", qos=1)
            # On every connect, as kiosk-station does: a broker shutting down sends our
            # Last Will to whoever is still connected, so after its restart the windows
            # have heard {"online": false} until we say otherwise.
            client.publish(f"{self.base}/server",
                           json.dumps({"online": True, "ts": self.clock()}), qos=1,
                           retain=True)
            self.publish_board(client)
            ready.set()

        c.on_connect = on_connect
        c.on_message = self._on_message
        # paho's default backoff doubles to 120 s: after a slow broker restart the stand-in
        # would stay away past a request's timeout (CI saw it once). kiosk-station's own
        # backoff is capped at 5 s (station.rpc reconnect_max_s).
        c.reconnect_delay_set(1, 2)
        c.will_set(f"{self.base}/server", json.dumps({"online": False}), qos=1, retain=True)
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        assert ready.wait(10), "responder did not connect"
        self.client = c

    def stop(self) -> None:
        """The station goes away: nothing answers until :meth:`start` again."""
        if self.client is not None:
            # As kiosk-station does when it stops; a crash leaves it to the LWT.
            self.client.publish(f"{self.base}/server", json.dumps({"online": False}), qos=1,
                                retain=True).wait_for_publish(5)
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def ops(self, op: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["op"] == op]

    # ------------------------------------------------------------------ answering

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        req = json.loads(msg.payload)
        with self.changed:
            self.requests.append(req)
            self.changed.notify_all()
        if self.drop > 0:
            self.drop -= 1
            return
        rid = req["rid"]
        if rid not in self.answered:  # exactly once: a resent rid gets the stored answer
            self.answered[rid] = {"v": 1, "rid": rid, **self._handle(req)}
            self.publish_board(client)
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        client.publish(msg.properties.ResponseTopic, json.dumps(self.answered[rid]), qos=1,
                       properties=props)
        with self.changed:
            self.changed.notify_all()

    def _serves(self, window: int, t: Ticket) -> bool:
        def serving(w: int) -> bool:
            return t.service in self.windows.get(w, {}).get("services", ())
        if window in self.away:
            return False
        if serving(window):
            return True
        # B-post: the tickets only an away window serves wait for its backup.
        return any(self.away.get(w) == window and serving(w) for w in self.windows)

    def _serving(self, window: int) -> Ticket | None:
        return next((t for t in reversed(self.tickets) if t.called == window and not t.done),
                    None)

    def _handle(self, r: dict[str, Any]) -> dict[str, Any]:
        op, now = r["op"], self.clock()
        if op == "issue":
            t = Ticket(f"A{len(self.tickets) + 1:03d}", r["service"], int(r["priority"]), now)
            ahead = sum(1 for x in self.tickets if not x.called and x.priority >= t.priority)
            self.tickets.append(t)
            windows = sorted(w for w in self.windows if self._serves(w, t))
            return {"ok": True, "ticket": t.json(), "ahead": ahead, "est_wait_min": ahead * 5,
                    "windows": windows}
        if op == "call_next":
            w = int(r["window"])
            busy = self._serving(w)
            if busy is not None:  # as kiosk-station: done or no_show first
                return {"ok": False, "error": f"field 'window': window {w} still serves "
                        f"{busy.number}; send done or no_show first", "code": "busy"}
            waiting = [t for t in self.tickets if not t.called and self._serves(w, t)]
            if not waiting:
                return {"ok": True, "ticket": None}
            t = sorted(waiting, key=lambda x: (-x.priority, x.issued_ts))[0]
            return self._call(t, w)
        if op == "call":
            t2 = next((t for t in self.tickets if t.number == r["number"] and not t.called),
                      None)
            if t2 is None:
                return {"ok": False, "error": f"number {r['number']} is not waiting",
                        "code": "ticket_not_waiting"}
            return self._call(t2, int(r["window"]))
        if op in ("recall", "no_show", "done"):
            t3 = self._serving(int(r["window"]))
            if t3 is None:
                return {"ok": False, "error": "window: no ticket called",
                        "code": "no_called_ticket"}
            if op == "recall":
                t3.recalls += 1
                self.called.append({"number": t3.number, "window": t3.called, "ts": now})
                return {"ok": True, "ticket": {**t3.json(), "recalls": t3.recalls}}
            t3.done = True
            if op == "no_show":
                return {"ok": True, "ticket": t3.json(), "requeued": False}
            return {"ok": True, "ticket": t3.json(), "service_s": 60}
        if op == "away":
            self.away[int(r["window"])] = int(r["backup"])
            return {"ok": True, "moved": []}
        if op == "back":
            self.away.pop(int(r["window"]), None)
            return {"ok": True, "returned": []}
        if op == "reconcile":
            taken, already = [], []
            for t in r["tickets"]:
                key = t["number"]
                (already if key in self.reconciled else taken).append(key)
                if key not in self.reconciled:
                    self.reconciled.append(key)
                    self.tickets.append(Ticket(key, t["service"], int(t["priority"]),
                                               float(t["issued_ts"]), t["day"],
                                               int(t["window"] or 0) if t["called_ts"] else 0,
                                               done=t["called_ts"] is not None))
            return {"ok": True, "taken": taken, "already": already}
        return {"ok": False, "error": f"op: {op!r} is not an operation", "code": "bad_op"}

    def _call(self, t: Ticket, window: int) -> dict[str, Any]:
        t.called = window
        self.called.append({"number": t.number, "window": window, "ts": self.clock()
                            + len(self.called)})
        return {"ok": True, "ticket": t.json()}

    # ------------------------------------------------------------------ the board

    def board(self) -> dict[str, Any]:
        waiting: dict[str, int] = {}
        for t in self.tickets:
            if not t.called:
                waiting[t.service] = waiting.get(t.service, 0) + 1
        windows = []
        for w, spec in sorted(self.windows.items()):
            serving = self._serving(w)
            windows.append({"window": w, "serving": serving.number if serving else "",
                            "away": w in self.away, "backup": self.away.get(w, spec.get(
                                "backup", 0)), "services": list(spec.get("services", ()))})
        return {"v": 1, "ts": self.clock(), "day": DAY, "windows": windows,
                "called": self.called[-8:], "waiting": waiting, "longest_wait_min": 0,
                "notices": list(self.notices)}

    def publish_board(self, client: mqtt.Client | None = None) -> None:
        c = client or self.client
        assert c is not None
        c.publish(f"{self.base}/board", json.dumps(self.board(), ensure_ascii=False), qos=1,
                  retain=True)
