"""kiosk-hq's collector: shared subscription in, every event stored once, ack after commit.

Several collectors can run against one broker or cluster: they subscribe to
``$share/hq/{prefix}/+/+/events`` and the broker hands each message to one of them.
Each message is acknowledged (manual PUBACK) only after its events are committed, so a
collector that dies mid-batch loses nothing: the broker sends those messages again
(to the same persistent session or another collector) and the event id dedupes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device import sdnotify
from device.errors import ParseError
from sync.hq_store import HqStore, parse_events_payload
from sync.topics import SHARE_GROUP, hq_filters, split_device_topic

log = logging.getLogger("hq")

_TICK: Any = object()  # the writer's timer woke it, no message

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker queues for an absent collector this long


@dataclass
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "kiosk-hq-1"
    prefix: str = "kiosk/v1"
    share: str = SHARE_GROUP
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    username: str = ""
    password: str = ""
    keepalive_s: int = 30
    tls: bool = False


@dataclass
class CollectorStats:
    messages: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    work_orders: int = 0
    batches: int = 0
    rejects: list[str] = field(default_factory=list)


def replayed_flag(msg: mqtt.MQTTMessage) -> bool:
    props = getattr(msg, "properties", None)
    for key, value in getattr(props, "UserProperty", None) or []:
        if key == "replayed" and value == "true":
            return True
    return False


class Collector:
    def __init__(self, store: HqStore, opts: BrokerOptions, *, batch_max: int = 2000,
                 repair_s: float = 10.0) -> None:
        self.store = store
        self.opts = opts
        self.batch_max = batch_max
        self.repair_s = repair_s
        self._seen_gaps: dict[str, tuple[int, int]] = {}
        # Beaten by the writer loop (it wakes at least every repair_s): the systemd watchdog.
        self.heartbeat = sdnotify.Heartbeat(max_age_s=max(60.0, 3 * repair_s))
        self._device_sites: dict[str, str] = {}
        self.stats = CollectorStats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.stopped = threading.Event()
        self.committed = threading.Condition()  # notified after every batch (tests, bench)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        o = self.opts
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=o.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        if o.tls:
            client.tls_set(ca_certs=o.ca_file or None, certfile=o.cert_file or None,
                           keyfile=o.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if o.username:
            client.username_pw_set(o.username, o.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_a: self.subscribed.set()
        client.reconnect_delay_set(1, 5)
        return client

    # ------------------------------------------------------------------ paho thread

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any,
                    _p: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the collector: %s", reason_code)
            return
        # Subscribing again is harmless when the session survived, and needed when not.
        client.subscribe([(f, 1) for f in hq_filters(self.opts.prefix, self.opts.share)
                          .values()])
        log.info("collector %s connected (session present: %s)", self.opts.client_id,
                 flags.session_present)
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self.stopped.is_set():
            log.warning("collector disconnected (%s); reconnecting", reason_code)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(msg)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.opts.host, self.opts.port,
                                  keepalive=self.opts.keepalive_s, clean_start=False,
                                  properties=props)
        self.client.loop_start()
        self._writer = threading.Thread(target=self._write_loop, name="hq-writer",
                                        daemon=True)
        self._writer.start()

    def stop(self) -> None:
        self.stopped.set()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(timeout=10)
        with contextlib.suppress(Exception):
            self.client.disconnect()
        self.client.loop_stop()

    # ------------------------------------------------------------------ writer thread

    def _write_loop(self) -> None:
        next_repair = time.monotonic() + self.repair_s
        while True:
            try:
                first = self._queue.get(timeout=max(0.01, next_repair - time.monotonic()))
            except queue.Empty:
                first = None if self.stopped.is_set() else _TICK
            self.heartbeat.beat()
            if time.monotonic() >= next_repair:
                next_repair = time.monotonic() + self.repair_s
                try:
                    self.repair()
                except Exception:
                    log.exception("gap repair failed")
            if first is _TICK:
                continue
            if first is None:
                return
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    msg = self._queue.get_nowait()
                except queue.Empty:
                    break
                if msg is None:
                    self._process(batch)
                    return
                batch.append(msg)
            self._process(batch)

    def _process(self, batch: list[mqtt.MQTTMessage]) -> None:
        events: list[tuple[dict[str, Any], bool]] = []
        prefix = self.opts.prefix
        for msg in batch:
            self.stats.messages += 1
            try:
                site, device, leaf = split_device_topic(prefix, msg.topic)
                if leaf == "events":
                    replayed = replayed_flag(msg)
                    events.extend((ev, replayed) for ev in
                                  parse_events_payload(bytes(msg.payload), site, device))
                elif leaf in ("state", "health") and msg.payload:
                    doc = json.loads(bytes(msg.payload).decode("utf-8"))
                    if not isinstance(doc, dict):
                        raise ParseError(f"{leaf} payload must be a JSON object")
                    self.store.set_status(device, site, leaf, doc)
            except (ParseError, UnicodeDecodeError, json.JSONDecodeError,
                    RecursionError) as exc:
                # Garbage is acknowledged too (it would only come back), and counted.
                self.stats.rejected += 1
                if len(self.stats.rejects) < 100:
                    self.stats.rejects.append(f"{msg.topic}: {exc}")
                log.warning("rejected message on %s: %s", msg.topic, exc)
        try:
            res = self.store.ingest(events)
        except Exception:
            # Not acknowledged: the broker delivers these again after a reconnect.
            log.exception("could not store %d events; they stay unacknowledged", len(events))
            with contextlib.suppress(Exception):
                self.client.disconnect()
            return
        for msg in batch:
            if msg.qos > 0:
                self.client.ack(msg.mid, msg.qos)
        self.stats.new += res.new
        self.stats.duplicates += res.duplicates
        self.stats.work_orders += len(res.work_orders)
        self.stats.batches += 1
        with self.committed:
            self.committed.notify_all()

    def repair(self) -> list[tuple[str, int, int]]:
        """Ask devices to send again what HQ is missing.

        A QoS 1 message the broker acknowledged can still be lost on the way to HQ (a
        broker restart that forgets the shared subscription, a cluster failover). The
        device keeps sent events for ``store.retention_days``, so a gap seen twice in a row
        (not just out-of-order delivery) becomes a ``cmd/resend`` to that device; so
        does a tail the device's health says exists (head_seq above what HQ holds).
        """
        asked: list[tuple[str, int, int]] = []
        seen: dict[str, tuple[int, int]] = {}
        for row in self.store.integrity():
            device = row["device"]
            self._device_sites[device] = row["site"]
            want: tuple[int, int] | None = row["gaps"][0] if row["gaps"] else None
            head = self.store.device_head_seq(device)
            if want is None and head is not None and head > row["max_seq"]:
                want = (row["max_seq"] + 1, head)
            if want is None:
                continue
            seen[device] = want
            if self._seen_gaps.get(device) == want:
                self._ask_resend(row["site"], device, *want)
                asked.append((device, *want))
        self._seen_gaps = seen
        return asked

    def _ask_resend(self, site: str, device: str, first: int, last: int) -> None:
        topic = f"{self.opts.prefix}/{site}/{device}/cmd/resend"
        body = {"id": f"hq-{int(time.time() * 1000)}", "from_seq": first, "to_seq": last}
        log.warning("asking %s/%s to resend seq %d..%d", site, device, first, last)
        self.client.publish(topic, json.dumps(body), qos=1)

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after some commit, or ``timeout``."""
        with self.committed:
            return self.committed.wait_for(lambda: predicate(self), timeout=timeout)
