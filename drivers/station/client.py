"""An MQTT 5 request/response client of kiosk-station (docs/station.md, "The protocol").

Each request ``{"v": 1, "rid": UUIDv7, "device": D, "op": ..., ...}`` is published QoS 1
to ``kiosk/v1/S/station/req`` with the MQTT 5 *Response Topic*
``kiosk/v1/S/station/resp/D`` and *Correlation Data* = the rid. :meth:`request` waits
(a ``threading.Event``) for the response with that correlation and resends the request,
with the same rid, until ``station.timeout_s`` has passed: the station answers a rid it
has seen with the stored response and changes nothing, so a resend never issues or calls
twice. No answer in time: ``None``, and the caller falls back to its own number block;
while the retained ``station/server`` says the station is offline, ``None`` at once.

The retained ``station/board`` (what the hall shows) and ``station/server`` are kept as
they arrive; observers of the board are called on paho's thread.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.config import Config
from device.errors import DriverError, ParseError
from device.events import uuid7
from device.json_input import load_object

log = logging.getLogger("station.client")

PROTOCOL_VERSION = 1
BoardObserver = Callable[[dict[str, Any]], None]
StateObserver = Callable[[bool], None]


class StationClient:
    """One connection to the station broker; thread-safe :meth:`request`."""

    def __init__(self, config: Config, *, resend_s: float | None = None,
                 client_id: str = "") -> None:
        self.config = config
        st = config.station
        self.site, self.device = config.device.site, config.device.id
        base = f"{config.mqtt.topic_prefix}/{self.site}/station"
        self.req_topic = f"{base}/req"
        self.resp_topic = f"{base}/resp/{self.device}"
        self.board_topic, self.state_topic = f"{base}/board", f"{base}/server"
        self.timeout_s = st.timeout_s
        # A few tries within the timeout: a lost PUBLISH or a broker restart costs one.
        self.resend_s = resend_s if resend_s is not None else max(0.2, st.timeout_s / 3)
        self.board: dict[str, Any] | None = None
        self.online: bool | None = None  # the station's retained state; None: not heard
        self.connected = threading.Event()
        self.refused = ""  # the broker's reason when it refused the last connect
        self.sent: list[tuple[str, str]] = []  # (rid, op) of every publish, for tests/logs
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._board_observers: list[BoardObserver] = []
        self._state_observers: list[StateObserver] = []
        self._client = self._make_client(client_id or f"{self.site}.{self.device}.station")

    # ------------------------------------------------------------------ connection

    def _make_client(self, client_id: str) -> mqtt.Client:
        st = self.config.station
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv5)
        if st.tls:
            if st.ca_file and not Path(st.ca_file).is_file():
                raise DriverError(f"station.ca_file = {st.ca_file!r}: no such file. Fix: "
                                  "install the station broker's CA certificate")
            c.tls_set(ca_certs=st.ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if st.username:
            password = None
            if st.password_file:
                try:
                    password = Path(st.password_file).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise DriverError(f"station.password_file = {st.password_file!r}: "
                                      f"{exc.strerror}. Fix: provision it (mode 0600)") from None
            c.username_pw_set(st.username, password)
        c.reconnect_delay_set(1, 2)
        c.on_socket_open = _nodelay
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def start(self) -> None:
        st = self.config.station
        self._client.connect_async(st.host, st.port, keepalive=30)
        self._client.loop_start()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any,
                    _p: Any = None) -> None:
        if rc.is_failure:
            self.refused = str(rc)
            log.warning("station broker refused the connection: %s", rc)
            return
        self.refused = ""
        client.subscribe([(self.resp_topic, 1), (self.board_topic, 1), (self.state_topic, 1)])
        self.connected.set()
        log.info("connected to the station broker %s:%d", self.config.station.host,
                 self.config.station.port)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        self.connected.clear()
        log.warning("station broker connection lost: %s", rc)

    # ------------------------------------------------------------------ messages

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body = load_object(bytes(msg.payload), max_bytes=256 * 1024, where=msg.topic)
        except ParseError as exc:
            log.warning("ignored: %s", exc)
            return
        if msg.topic == self.resp_topic:
            corr = getattr(msg.properties, "CorrelationData", None)
            rid = corr.decode("utf-8", "replace") if isinstance(corr, bytes) else ""
            self._answer(rid or str(body.get("rid", "")), body)
        elif msg.topic == self.board_topic:
            self.board = body
            for observer in list(self._board_observers):
                try:
                    observer(body)
                except Exception:
                    log.exception("board observer failed")
        elif msg.topic == self.state_topic:
            self.online = body.get("online") is True
            for state_observer in list(self._state_observers):
                state_observer(self.online)

    def _answer(self, rid: str, body: dict[str, Any]) -> None:
        if body.get("rid") != rid:
            log.warning("response with correlation %s names rid %s: ignored", rid,
                        body.get("rid"))
            return
        with self._lock:
            waiting = self._waiting.get(rid)
        if waiting is None:
            log.info("late or repeated response to %s: ignored", rid)
            return
        event, box = waiting
        box.append(body)
        event.set()

    def subscribe_board(self, observer: BoardObserver) -> None:
        self._board_observers.append(observer)

    def subscribe_state(self, observer: StateObserver) -> None:
        """``observer(online)`` on each retained ``station/server`` (its LWT says false)."""
        self._state_observers.append(observer)

    # ------------------------------------------------------------------ requests

    def request(self, op: str, *, rid: str = "", timeout_s: float | None = None,
                **fields: Any) -> dict[str, Any] | None:
        """The station's response to ``op`` (``ok`` true or false), or None when it did
        not answer within ``timeout_s`` (station.timeout_s)."""
        rid = rid or uuid7()
        if self.online is False:
            # The station's state (its LWT, or its own goodbye) says it is gone: nobody
            # would answer, and a citizen should not wait timeout_s at the screen for it.
            log.info("station offline: %s falls back at once", op)
            return None
        body = {"v": PROTOCOL_VERSION, "rid": rid, "device": self.device, "op": op, **fields}
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.resp_topic
        props.CorrelationData = rid.encode("utf-8")
        event, box = threading.Event(), []  # type: tuple[threading.Event, list[dict[str, Any]]]
        with self._lock:
            self._waiting[rid] = (event, box)
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        try:
            while True:
                if self.connected.is_set():
                    self._client.publish(self.req_topic, payload, qos=1, properties=props)
                    self.sent.append((rid, op))
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if event.wait(min(self.resend_s, left)):
                    return box[0]
            log.warning("station did not answer %s (rid %s) within %.1f s", op, rid,
                        self.timeout_s if timeout_s is None else timeout_s)
            return None
        finally:
            with self._lock:
                self._waiting.pop(rid, None)


def _nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # paho leaves Nagle on: a small request then waits for the delayed ACK, ~40 ms a hop.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
