"""kiosk-sync: drains the SQLite outbox to the broker and applies HQ's downlink.

Its own process, its own SQLite connection. The outbox (``events.sent_at IS NULL``) is
the only source of truth: paho keeps its session in memory, so each connection starts
clean and simply publishes every unsent row again. A row is marked sent only after its
PUBACK arrived with a reason code below 128 (paho#715: ``publish()`` succeeds even when
the broker's ACL refuses the topic). Duplicates after a reconnect are expected; HQ
dedupes on the event id.

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
from dataclasses import dataclass
from datetime import UTC, datetime
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
from sync.health import Beat, NoBeat
from sync.inbox import DownlinkHandlers
from sync.mqttclient import make_client, refusal_hint
from sync.topics import CONTENT_KINDS, Topics

log = logging.getLogger("sync")

MAX_PENDING = 4000  # messages handed to paho and not yet acknowledged
PUBLISH_CHUNK = 500  # per step: short bursts, so paho's network thread is not starved
MARK_EVERY_S = 0.1  # group PUBACKs into one commit (synchronous=FULL costs an fsync)
MARK_MAX = 2048
WAKE_ACKS = 1000  # PUBACKs that wake the main loop early (else it wakes every poll_s)
HOUSEKEEP_S = 30.0


@dataclass
class Stats:
    published: int = 0
    acked: int = 0
    marked: int = 0  # events committed as sent (marks are grouped, so this lags acked)
    refused: int = 0
    connections: int = 0
    connect_failures: int = 0
    content_applied: int = 0
    content_rejected: int = 0
    commands: int = 0
    confirmations: int = 0  # HQ's receipts taken (sync/confirm.py)


class Syncer(DownlinkHandlers, DiskLimit):
    """The uplink/downlink worker. ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(self, cfg: Config, *, db_path: Path | None = None,
                 clock: Callable[[], float] = time.time,
                 reconnect_min_s: float = 0.2, reconnect_max_s: float = 10.0,
                 poll_s: float = 0.05, heartbeat: Beat | None = None) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.mqtt.topic_prefix, cfg.device.site, cfg.device.id)
        self.db_path = Path(db_path or cfg.db_path)
        self.store = Store(self.db_path, site=cfg.device.site, device=cfg.device.id,
                           check_integrity=False)
        self.conn: sqlite3.Connection = self.store.conn
        self.clock = clock
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.poll_s = poll_s
        self.stats = Stats()
        self.connected = threading.Event()  # for tests and the CLI's --drain
        self.idle = threading.Event()  # connected, every row acknowledged and marked
        # Beaten every loop round, also while waiting to reconnect: the shell's systemd
        # watchdog pings only while it beats, so a hung loop gets the service restarted.
        self.heartbeat: Beat = heartbeat or NoBeat()
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._inbox: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._lost = threading.Event()
        self._client: mqtt.Client | None = None
        self._pending: dict[int, list[int]] = {}
        self._pending_count = 0
        self._cursor = 0
        self._more = True
        self._to_mark: list[int] = []
        self._first_unmarked = 0.0
        self._head_at_connect = 0
        self._generation = 0
        self._data_version = -1
        self._last_state: dict[str, Any] | None = None
        self._next_health = 0.0
        self._next_housekeep = 0.0
        self._shed_fault_open = False
        self._shedding = False  # a shed stopped by its time budget, to go on with
        self._replayed_props = self._publish_props()
        self._last_error = ""
        self._disconnect_reason = ""
        self._older: dict[str, dict[str, Any]] = {}  # content refused as older, by kind
        self.confirmations = confirm.Confirmations(self.store, cfg.mqtt.confirm_timeout_s)
        self._replay_upto = 0  # events up to here were re-queued for HQ: flag them replayed
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
        self._acks.put((mid, int(reason_code.value)))
        if self._acks.qsize() >= WAKE_ACKS:
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
        self._drain_acks()
        self._flush_marks(force=True)
        if self._lost.is_set():
            log.warning("connection to the broker lost; %d unacknowledged messages will be "
                        "sent again", self._pending_count)
        if not stop.is_set():
            self._teardown()
        return True

    def _on_session_start(self) -> None:
        assert self._client is not None
        self._generation += 1
        self.stats.connections += 1
        self._pending.clear()
        self._pending_count = 0
        self._cursor = 0
        self._more = True
        self._head_at_connect = int(self.conn.execute(
            "SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        subs = [(self.topics.content(k), 1) for k in CONTENT_KINDS]
        subs.append((self.topics.commands, 1))
        subs.append((self.topics.confirmed, 1))  # HQ's receipt (sync/confirm.py)
        self._client.subscribe(subs)
        self._last_state = None
        self._publish_state()
        self._next_health = 0.0
        log.info("connected to %s:%s as %s (connection %d, %d unsent)", self.cfg.mqtt.host,
                 self.cfg.mqtt.port, self.identity, self._generation,
                 self.store.count_unsent())

    def _step(self) -> None:
        self.heartbeat.beat()
        self._drain_acks()
        self._flush_marks()
        self._handle_inbox()
        self._resend_unconfirmed()
        dv = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        changed = dv != self._data_version
        self._data_version = dv
        if changed:
            self._more = True
            self._publish_state()
        if self._more and self._pending_count < MAX_PENDING:
            self._publish_unsent()
            if self._more and self._pending_count < MAX_PENDING:
                self._wake.set()  # room left: next step at once, after paho had a turn
        if self._pending_count == 0 and not self._more:
            self._flush_marks(force=True)  # drained: no reason to hold marks back
        if self._pending_count or self._to_mark or self._more:
            self.idle.clear()
        elif self.conn.execute(
                "SELECT 1 FROM events WHERE sent_at IS NULL LIMIT 1").fetchone() is None:
            if not self.idle.is_set():
                # Drained: tell HQ at once how far we are (head_seq, outbox empty), so it
                # can ask for anything the broker lost on the way (see Collector.repair).
                self._publish_health()
            self.idle.set()
        now = time.monotonic()
        if now >= self._next_health:
            self._next_health = now + self.cfg.mqtt.health_interval_s
            self._publish_health()
        if now >= self._next_housekeep:
            self._housekeep()

    # ------------------------------------------------------------------ uplink

    @staticmethod
    def _publish_props() -> Properties:
        # Outside the hashed envelope, so the chain still verifies at HQ. Live events
        # carry no properties at all: packing them costs as much as the rest of publish().
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("replayed", "true")
        return props

    def _publish_unsent(self) -> None:
        client = self._client
        assert client is not None
        room = min(PUBLISH_CHUNK, MAX_PENDING - self._pending_count)
        batch = max(1, self.cfg.mqtt.batch)
        rows = self.conn.execute(
            "SELECT seq, ts, body FROM events WHERE sent_at IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?", (self._cursor, room * batch)).fetchall()
        self._more = len(rows) == room * batch
        if not rows:
            return
        # Stored ts are all "YYYY-MM-DDTHH:MM:SS.mmmZ": comparing strings is comparing times.
        cutoff = datetime.fromtimestamp(self.clock() - self.cfg.mqtt.replay_after_s, UTC
                                        ).isoformat(timespec="milliseconds").replace(
                                            "+00:00", "Z")
        reconnected = self._generation > 1
        topic = self.topics.events
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            first_seq, first_ts = chunk[0][0], chunk[0][1]
            replayed = (reconnected and first_seq <= self._head_at_connect) or (
                first_ts < cutoff) or first_seq <= self._replay_upto
            # A batch is a JSON array of the stored envelopes, byte for byte.
            payload = chunk[0][2] if batch == 1 else "[" + ",".join(r[2] for r in chunk) + "]"
            info = client.publish(topic, payload.encode("utf-8"), qos=1,
                                  properties=self._replayed_props if replayed else None)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                log.warning("publish refused locally: %s", mqtt.error_string(info.rc))
                self._more = True
                return
            self._pending[info.mid] = [r[0] for r in chunk]
            self._pending_count += 1
            self._cursor = chunk[-1][0]
            self.stats.published += 1

    def _drain_acks(self) -> None:
        while True:
            try:
                mid, rc = self._acks.get_nowait()
            except queue.Empty:
                return
            seqs = self._pending.pop(mid, None)
            if seqs is None:
                continue  # state, health or a result message
            self._pending_count -= 1
            if rc >= 128:
                # Refused (ACL, quota, payload): the rows stay unsent; the next connection
                # tries again. Logged, never marked.
                self.stats.refused += 1
                log.error("broker refused events seq %d..%d on %s: reason code %d",
                          seqs[0], seqs[-1], self.topics.events, rc)
                continue
            self.stats.acked += 1
            if not self._to_mark:
                self._first_unmarked = time.monotonic()
            self._to_mark.extend(seqs)

    def _flush_marks(self, *, force: bool = False) -> None:
        if not self._to_mark:
            return
        if not force and len(self._to_mark) < MARK_MAX and (
                time.monotonic() - self._first_unmarked < MARK_EVERY_S):
            return
        seqs, self._to_mark = self._to_mark, []
        self.store.mark_sent(seqs)
        self.stats.marked += len(seqs)

    # ------------------------------------------------------------------ state and health

    def _publish_state(self) -> None:
        if self._client is None or not self.connected.is_set():
            return
        doc = health.state(self.conn, online=True, now=self.clock())
        comparable = {k: v for k, v in doc.items() if k != "ts"}
        if comparable == self._last_state:
            return
        self._last_state = comparable
        self._client.publish(self.topics.state, json.dumps(doc, ensure_ascii=False), qos=1,
                             retain=True)

    def _publish_health(self) -> None:
        if self._client is None:
            return
        doc = health.health(self.conn, self.db_path, self.clock())
        doc["inflight"] = self._pending_count
        doc["connection"] = self._generation
        self._client.publish(self.topics.health, json.dumps(doc, ensure_ascii=False), qos=0)

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
            self._drain_acks()
            self._flush_marks(force=True)
            info = client.publish(self.topics.state, json.dumps(health.offline_state()),
                                  qos=1, retain=True)
            with contextlib.suppress(Exception):
                info.wait_for_publish(timeout=2.0)
            self._drain_acks()
            self._flush_marks(force=True)
        self._teardown()

    def close(self) -> None:
        self.store.close()
