"""kiosk-sync: the connection to the broker, and the wiring of the parts it feeds.

Its own process, its own SQLite connection (the :class:`~device.store.Store`'s). The
parts are the outbox publisher (sync/outbox.py: unsent rows out, marked sent on PUBACK),
the downlink router (sync/router.py: HQ's content, commands and confirmation) and the
state and health reporter (sync/health.py); they publish through this class's
:meth:`Syncer.publish`, the one place that touches the paho client.

One thread (``run``) owns the database and all decisions; paho's network thread only
queues acks and downlink messages and wakes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.config import Config
from device.errors import KioskError, SyncError
from device.store import Store
from sync import confirm, health
from sync.disklimit import DiskLimit
from sync.health import Beat, NoBeat, Reporter
from sync.mqttclient import make_client, refusal_hint
from sync.outbox import OutboxPublisher, drained
from sync.router import DownlinkRouter, Result
from sync.stats import Stats
from sync.topics import CONTENT_KINDS, Topics

log = logging.getLogger("sync")

HOUSEKEEP_S = 30.0

__all__ = ["HOUSEKEEP_S", "Stats", "Syncer"]  # Stats: where callers have always found it


class Syncer(DiskLimit):
    """The uplink/downlink worker. ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(self, cfg: Config, *, db_path: Path | None = None,
                 clock: Callable[[], float] = time.time,
                 reconnect_min_s: float = 0.2, reconnect_max_s: float = 10.0,
                 poll_s: float = 0.05, heartbeat: Beat | None = None,
                 stats: Stats | None = None) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.mqtt.topic_prefix, cfg.device.site, cfg.device.id)
        self.db_path = Path(db_path or cfg.db_path)
        self.store = Store(self.db_path, site=cfg.device.site, device=cfg.device.id,
                           check_integrity=False)
        self.clock = clock
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.poll_s = poll_s
        self.stats = stats if stats is not None else Stats()  # shared by all the parts
        self.connected = threading.Event()  # for tests and the CLI's --drain
        self.idle = threading.Event()  # connected, every row acknowledged and marked
        # Beaten every loop round, also while waiting to reconnect: the shell's systemd
        # watchdog pings only while it beats, so a hung loop gets the service restarted.
        self.heartbeat: Beat = heartbeat or NoBeat()
        self._wake = threading.Event()
        self._inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lost = threading.Event()
        self._client: mqtt.Client | None = None
        self._data_version = -1
        self._next_health = 0.0
        self._next_housekeep = 0.0
        self._shed_fault_open = False
        self._shedding = False  # a shed stopped by its time budget, to go on with
        self._replayed_props = self._publish_props()
        self._last_error = ""
        self._disconnect_reason = ""
        # The parts; each publishes through self (the Sink), none touches paho.
        self.outbox = OutboxPublisher(self.store, self, self.topics.events,
                                      batch=cfg.mqtt.batch,
                                      replay_after_s=cfg.mqtt.replay_after_s, clock=clock,
                                      stats=self.stats)
        self.reporter = Reporter(self.store, self.topics, self, self.outbox, clock=clock,
                                 online=self.connected.is_set)
        self.confirmations = confirm.Confirmations(self.store, cfg.mqtt.confirm_timeout_s)
        self.router = DownlinkRouter(self.store, self.topics, self, outbox=self.outbox,
                                     reporter=self.reporter,
                                     confirmations=self.confirmations, stats=self.stats)
        if cfg.mqtt.username and cfg.mqtt.username != self.identity:
            log.warning("mqtt.username %r is not this counter's broker user %r (<site>.<device>):"
                        " the broker will refuse what it publishes", cfg.mqtt.username,
                        self.identity)

    @property
    def identity(self) -> str:  # the broker user and client id: "<site>.<device>"
        return f"{self.cfg.device.site}.{self.cfg.device.id}"

    # ------------------------------------------------------------------ paho callbacks
    # (paho's network thread: queue and wake, never touch the database here)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason_code: Any,
                    _p: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            self._lost.set()
        else:
            self.connected.set()
        self._wake.set()

    def _on_log(self, _c: Any, _u: Any, level: int, text: str) -> None:
        # paho logs the socket's own error (a TLS alert), then says "Unspecified error".
        if level == mqtt.MQTT_LOG_ERR and not self._last_error:
            self._last_error = text

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        self._disconnect_reason = str(reason_code)
        self.connected.clear()
        self.idle.clear()
        self._lost.set()
        self._wake.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason_code: Any, _p: Any) -> None:
        if self.outbox.ack(mid, int(reason_code.value)):
            self._wake.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((msg.topic, bytes(msg.payload)))
        self._wake.set()

    # ------------------------------------------------------------------ main loop

    def run(self, stop: threading.Event) -> None:
        backoff = self.reconnect_min_s
        self._housekeep()
        while not stop.is_set():
            self.heartbeat.beat()
            if time.monotonic() >= self._next_housekeep:  # offline too: days fill the disk
                self._housekeep()
            try:
                self._connect()
            except (OSError, SyncError, ValueError) as exc:
                if isinstance(exc, SyncError):
                    raise
                self.stats.connect_failures += 1
                log.warning("cannot reach the broker at %s:%s (%s); retrying in %.1fs",
                            self.cfg.mqtt.host, self.cfg.mqtt.port, exc, backoff)
                self._teardown()
                stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
                continue
            began = time.monotonic()
            # A session the broker ends at once (e.g. it drops a client whose publish its
            # ACL refused) counts as a failure: back off instead of hammering it.
            got_connack = self._session(stop)
            if not got_connack and not stop.is_set():
                self.stats.connect_failures += 1  # e.g. TLS 1.3 refuses the client late
                log.warning("the broker at %s:%s ended the connection before accepting it "
                            "(%s)%s; retrying in %.1fs", self.cfg.mqtt.host, self.cfg.mqtt.port,
                            self._last_error or self._disconnect_reason or "no answer",
                            refusal_hint(self.cfg.mqtt), backoff)
            if got_connack and time.monotonic() - began > 5.0:
                backoff = self.reconnect_min_s
            else:
                stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
        self._shutdown()

    def _connect(self) -> None:
        m = self.cfg.mqtt
        # The broker binds a counter to the client id "<site>.<device>" (docs/mosquitto).
        client = make_client(self.cfg, m.client_id or self.identity)
        client.will_set(self.topics.state, json.dumps(health.offline_state()), qos=1,
                        retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        self._last_error = self._disconnect_reason = ""
        self._lost.clear()
        self.connected.clear()
        self._client = client
        client.connect(m.host, m.port, keepalive=m.keepalive_s, clean_start=True)
        client.loop_start()

    def _session(self, stop: threading.Event) -> bool:
        """One connection's life; returns whether it got as far as CONNACK."""
        deadline = time.monotonic() + max(5.0, self.cfg.mqtt.keepalive_s)
        while not self.connected.is_set() and not self._lost.is_set():
            if stop.is_set() or time.monotonic() > deadline:
                self._teardown()
                return False
            self.heartbeat.beat()
            self._wake.wait(0.1)
            self._wake.clear()
        if not self.connected.is_set():
            self._teardown()
            return False
        self._on_session_start()
        while not stop.is_set() and not self._lost.is_set():
            self._step()
            self._wake.wait(self.poll_s)
            self._wake.clear()
        self.outbox.drain_acks()
        self.outbox.flush_marks(force=True)
        if self._lost.is_set():
            log.warning("connection to the broker lost; %d unacknowledged messages will be "
                        "sent again", self.outbox.pending_count)
        if not stop.is_set():
            self._teardown()
        return True

    def _on_session_start(self) -> None:
        assert self._client is not None
        self.stats.connections += 1
        self.outbox.new_connection()
        subs = [(self.topics.content(k), 1) for k in CONTENT_KINDS]
        subs.append((self.topics.commands, 1))
        subs.append((self.topics.confirmed, 1))  # HQ's receipt (sync/confirm.py)
        self._client.subscribe(subs)
        self.reporter.forget_state()
        self.reporter.publish_state()
        self._next_health = 0.0
        log.info("connected to %s:%s as %s (connection %d, %d unsent)", self.cfg.mqtt.host,
                 self.cfg.mqtt.port, self.identity, self.outbox.connection,
                 self.store.count_unsent())

    def _step(self) -> None:
        out = self.outbox
        self.heartbeat.beat()
        out.drain_acks()
        out.flush_marks()
        self._handle_inbox()
        self.router.resend_unconfirmed(time.monotonic())
        dv = self.store.data_version()
        changed = dv != self._data_version
        self._data_version = dv
        if changed:
            out.data_changed()
            self.reporter.publish_state()
        if out.has_room:
            out.publish_unsent()
            if out.has_room:
                self._wake.set()  # room left: next step at once, after paho had a turn
        if out.drained:
            out.flush_marks(force=True)  # drained: no reason to hold marks back
        if out.busy:
            self.idle.clear()
        elif self.store.outbox_empty():
            if not self.idle.is_set():
                # Drained: tell HQ at once how far we are (head_seq, outbox empty), so it
                # can ask for anything the broker lost on the way (see Collector.repair).
                self.reporter.publish_health()
            self.idle.set()
        now = time.monotonic()
        if now >= self._next_health:
            self._next_health = now + self.cfg.mqtt.health_interval_s
            self.reporter.publish_health()
        if now >= self._next_housekeep:
            self._housekeep()

    # ------------------------------------------------------------------ the downlink

    def _handle_inbox(self) -> None:
        for topic, payload in drained(self._inbox):
            try:
                self.router.handle(topic, payload)
            except Exception:  # a bug here must not stop the uplink
                log.exception("downlink message on %s failed", topic)

    def handle_message(self, topic: str, payload: bytes) -> Result | None:
        """One downlink message, as if it came from the broker (the router's)."""
        return self.router.handle(topic, payload)

    # ------------------------------------------------------------------ the sink

    @staticmethod
    def _publish_props() -> Properties:
        # Outside the hashed envelope, so the chain still verifies at HQ. Live events
        # carry no properties at all: packing them costs as much as the rest of publish().
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("replayed", "true")
        return props

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False,
                replayed: bool = False) -> int | None:
        """The parts' :class:`~sync.sink.Sink`: onto the current connection, if any."""
        client = self._client
        if client is None:
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain,
                              properties=self._replayed_props if replayed else None)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            log.warning("publish refused locally: %s", mqtt.error_string(info.rc))
            return None
        return int(info.mid)

    # ------------------------------------------------------------------ housekeeping

    def _housekeep(self) -> None:
        """Retention and the disk limit: prune sent rows, then shed telemetry if needed."""
        self._next_housekeep = time.monotonic() + HOUSEKEEP_S
        try:
            self.store.prune_sent(self.cfg.store.retention_days)
            self.check_disk()
        except KioskError as exc:
            log.error("housekeeping failed: %s", exc)
        except sqlite3.Error as exc:
            log.error("housekeeping failed: %s", exc)

    # ------------------------------------------------------------------ shutdown

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
        """Clean stop: acks in, marks committed, state online=false (a Will is only sent
        when the connection dies, not on a clean disconnect)."""
        client = self._client
        if client is not None and self.connected.is_set():
            self.outbox.drain_acks()
            self.outbox.flush_marks(force=True)
            info = client.publish(self.topics.state, json.dumps(health.offline_state()),
                                  qos=1, retain=True)
            with contextlib.suppress(Exception):
                info.wait_for_publish(timeout=2.0)
            self.outbox.drain_acks()
            self.outbox.flush_marks(force=True)
        self._teardown()

    def close(self) -> None:
        self.store.close()
