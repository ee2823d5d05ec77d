"""The station's MQTT 5 server: requests in, responses out, the retained board.

Subscribes ``{prefix}/{site}/station/req`` (QoS 1) on the station broker with a session
that outlives the process (clean_start off, one day's session expiry) and **manual
acks**: a request's PUBACK goes out only after :meth:`StationService.handle` committed
its change and response. A SIGKILL before that leaves the request unacknowledged, so the
broker delivers it again; the stored response makes the second delivery change nothing.

Each response goes QoS 1 to the request's MQTT 5 Response Topic, which must be the
sender's ``station/resp/<device>``, with the request's Correlation Data. After every
change the board is published retained; ``station/server`` is retained with the Last Will
``{"online": false}``. Nothing a client sends can stop the loop: bad JSON, a missing
response topic or a bug in one request is logged (and answered where it can be).

paho's network thread only queues messages; one thread (``run``) handles them in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.errors import ConfigError, ParseError
from device.json_input import load_object
from station.config import StationConfig
from station.queue import Code
from station.service import StationService, refusal, request_id
from station.store import StationStore

log = logging.getLogger("station.rpc")

MAX_REQUEST_BYTES = 256 * 1024  # a reconcile of a day's block fits easily
SESSION_EXPIRY_S = 86400
TICK_S = 10.0


class Beat(Protocol):
    def beat(self) -> None: ...


class _NoBeat:
    def beat(self) -> None:
        pass


class Topics:
    def __init__(self, prefix: str, site: str) -> None:
        self.root = f"{prefix}/{site}/station"
        self.req = f"{self.root}/req"
        self.board = f"{self.root}/board"
        # Not "state": that is the station kiosk-sync's own (device "station"), bridged
        # to HQ; the server's liveness stays at the station.
        self.state = f"{self.root}/server"
        self.resp_prefix = f"{self.root}/resp/"

    def resp(self, device: str) -> str:
        return self.resp_prefix + device


def make_client(cfg: StationConfig, client_id: str) -> mqtt.Client:
    """A paho MQTT 5 client from ``[mqtt]`` (TLS, credentials), not yet connected."""
    m = cfg.mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5, reconnect_on_failure=False, manual_ack=True)
    if m.tls:
        for key in ("ca_file", "cert_file", "key_file"):
            value = getattr(m, key)
            if value and not Path(value).is_file():
                raise ConfigError(f"{cfg.source}: mqtt.{key} = {value!r}: no such file. Fix: "
                                  "install the station's certificate files or correct the "
                                  "path.", key=f"mqtt.{key}")
        client.tls_set(ca_certs=m.ca_file or None, certfile=m.cert_file or None,
                       keyfile=m.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if m.username:
        password = None
        if m.password_file:
            try:
                password = Path(m.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{cfg.source}: mqtt.password_file = {m.password_file!r}: "
                                  f"{exc.strerror}. Fix: provision the station's password "
                                  "file (mode 0600).", key="mqtt.password_file") from None
        client.username_pw_set(m.username, password)
    client.max_inflight_messages_set(max(1, m.inflight))
    client.on_socket_open = _nodelay
    return client


def _nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # paho leaves Nagle on: a small answer then waits for the delayed ACK, ~40 ms a hop.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class StationServer:
    """``run(stop)`` serves until ``stop`` is set, reconnecting forever."""

    def __init__(self, service: StationService, cfg: StationConfig, *,
                 heartbeat: Beat | None = None, reconnect_min_s: float = 0.2,
                 reconnect_max_s: float = 5.0, tick_s: float = TICK_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.cfg = cfg
        self.topics = Topics(cfg.mqtt.topic_prefix, cfg.site)
        self.client_id = cfg.mqtt.client_id or f"{cfg.site}.station-server"
        self.heartbeat: Beat = heartbeat or _NoBeat()
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.tick_s = tick_s
        self.clock = clock
        self.connected = threading.Event()  # subscribed: requests reach us (tests, CLI)
        self.handled = 0  # requests answered (tests wait on it)
        self._inbox: queue.Queue[tuple[int, mqtt.MQTTMessage]] = queue.Queue()
        self._lost = threading.Event()
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._board_version = -1
        self._board_wait = -1

    # ------------------------------------------------------------------ paho's thread

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any,
                    _p: Any) -> None:
        if reason.is_failure:
            log.error("the station broker refused the connection: %s", reason)
            self._lost.set()
            return
        client.subscribe(self.topics.req, qos=1)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error("the station broker refused the subscription to %s: %s (is the user "
                      "the station server's, <site>.station-server?)", self.topics.req,
                      ", ".join(str(r) for r in reasons))
            self._lost.set()
        else:
            self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        log.warning("disconnected from the station broker: %s", reason)
        self.connected.clear()
        self._lost.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((self._generation, msg))

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        backoff = self.reconnect_min_s
        while not stop.is_set():
            self.heartbeat.beat()
            try:
                self._connect()
            except (OSError, ValueError) as exc:
                log.warning("cannot reach the station broker at %s:%s (%s); retrying in "
                            "%.1fs", self.cfg.mqtt.host, self.cfg.mqtt.port, exc, backoff)
                self._teardown()
                stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
                continue
            began = time.monotonic()
            self._session(stop)
            if time.monotonic() - began > 5.0:
                backoff = self.reconnect_min_s
            if not stop.is_set():
                stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
        self._shutdown()

    def _connect(self) -> None:
        m = self.cfg.mqtt
        client = make_client(self.cfg, self.client_id)
        client.will_set(self.topics.state, json.dumps({"online": False}), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._generation += 1
        self._lost.clear()
        self.connected.clear()
        self._client = client
        props = Properties(PacketTypes.CONNECT)
        # The session (our subscription, requests queued or unacknowledged) outlives a
        # crash of this process: the broker delivers them to the next one.
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect(m.host, m.port, keepalive=m.keepalive_s, clean_start=False,
                       properties=props)
        client.loop_start()

    def _session(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + max(5.0, self.cfg.mqtt.keepalive_s)
        while not self.connected.is_set():
            if stop.is_set() or self._lost.is_set() or time.monotonic() > deadline:
                self._teardown()
                return
            self.heartbeat.beat()
            stop.wait(0.05)
        log.info("serving %s on %s:%s as %s", self.topics.req, self.cfg.mqtt.host,
                 self.cfg.mqtt.port, self.client_id)
        self._publish(self.topics.state, {"online": True, "ts": self.clock()}, retain=True)
        self._board_version = -1
        self._publish_board()
        next_tick = time.monotonic() + self.tick_s
        while not stop.is_set() and not self._lost.is_set():
            self.heartbeat.beat()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                self._guarded(self.service.tick)
                # The longest wait grows with the clock alone: the hall sees it each tick.
                self._publish_board(force=True)
            try:
                generation, msg = self._inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if generation != self._generation:
                continue  # its connection is gone; the broker delivers it again
            self._guarded(lambda m=msg: self._request(m))  # type: ignore[misc]
        if not stop.is_set():
            self._teardown()

    def _guarded(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # a bug in one request must not stop the station
            log.exception("station request handling failed")

    # ------------------------------------------------------------------ one request

    def _request(self, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        resp_topic = str(getattr(props, "ResponseTopic", "") or "")
        corr = getattr(props, "CorrelationData", None)
        try:
            request = load_object(bytes(msg.payload), max_bytes=MAX_REQUEST_BYTES,
                                  where="request")
        except ParseError as exc:
            log.warning("bad request on %s (%s): %s", msg.topic, resp_topic or "no response "
                        "topic", exc)
            if resp_topic.startswith(self.topics.resp_prefix):
                self._respond(resp_topic, corr, refusal("", Code.BAD_REQUEST, str(exc)))
            self._ack(msg)
            return
        rid = request_id(request)
        device = request.get("device")
        own = self.topics.resp(device) if isinstance(device, str) and device else ""
        if not resp_topic:
            log.warning("request %s from %s has no Response Topic; answering on %s", rid,
                        device, own or "nothing")
            resp_topic = own
        if corr is None and rid:
            corr = rid.encode("utf-8")
        if resp_topic != own:
            # A device hears only its own resp topic: an answer elsewhere reaches nobody
            # (or the wrong device), and the request's device must be the topic's.
            log.warning("request %s: Response Topic %r is not the device's %r", rid,
                        resp_topic, own)
            if resp_topic.startswith(self.topics.resp_prefix):
                self._respond(resp_topic, corr, refusal(rid, Code.BAD_REQUEST, (
                    f"field 'device': {device!r} does not match the Response Topic "
                    f"{resp_topic}")))
            self._ack(msg)
            return
        response = self.service.handle(request)
        self._ack(msg)  # committed (or refused, or not storable): never again the same
        self._respond(resp_topic, corr, response)
        self.handled += 1
        self._publish_board()

    def _respond(self, topic: str, corr: Any, response: dict[str, Any]) -> None:
        props = Properties(PacketTypes.PUBLISH)
        if corr is not None:
            props.CorrelationData = bytes(corr)
        self._publish(topic, response, props=props)

    def _ack(self, msg: mqtt.MQTTMessage) -> None:
        client = self._client
        if client is not None and msg.qos > 0:
            client.ack(msg.mid, msg.qos)

    def _publish_board(self, *, force: bool = False) -> None:
        version = self.service.version
        if version == self._board_version and not force:
            return
        board = self.service.board()
        if force and version == self._board_version and \
                board["longest_wait_min"] == self._board_wait:
            return
        if self._publish(self.topics.board, board, retain=True):
            self._board_version, self._board_wait = version, board["longest_wait_min"]

    def _publish(self, topic: str, doc: dict[str, Any], *, retain: bool = False,
                 props: Properties | None = None) -> bool:
        client = self._client
        if client is None:
            return False
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        info = client.publish(topic, payload, qos=1, retain=retain, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return False
        return True

    # ------------------------------------------------------------------ stopping

    def _teardown(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        if client is None:
            return
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()

    def _shutdown(self) -> None:
        """A clean stop says offline itself (the Will is only for a connection that dies)."""
        client = self._client
        if client is not None and self.connected.is_set():
            info = client.publish(self.topics.state, json.dumps({"online": False}), qos=1,
                                  retain=True)
            with contextlib.suppress(Exception):
                info.wait_for_publish(timeout=2.0)
        self._teardown()


def serve(cfg: StationConfig, stop: threading.Event, *, heartbeat: Beat | None = None,
          clock: Callable[[], float] = time.time,
          started: Callable[[StationServer], None] | None = None,
          **server_options: Any) -> None:
    """Open station.db and serve until ``stop`` is set (the CLI and end-to-end tests).
    ``started`` is called with the server once the store is open (before connecting)."""
    store = StationStore(cfg.db_path, site=cfg.site)
    try:
        service = StationService(store, cfg, clock=clock)
        server = StationServer(service, cfg, heartbeat=heartbeat, clock=clock,
                               **server_options)
        if started is not None:
            started(server)
        server.run(stop)
    finally:
        store.close()
