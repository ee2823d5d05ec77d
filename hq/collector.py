"""kiosk-hq's collector: shared subscription in, every event stored once, ack after commit.

Several collectors can run against one broker or cluster: they subscribe to
``$share/hq/{prefix}/+/+/events`` and the broker hands each message to one of them.
Each message is acknowledged (manual PUBACK) only after it is committed or quarantined.

Sessions do not outlive the collector: every connection is a clean start with session
expiry 0 and subscribes again, so a stopped collector takes no share of the traffic (and
Mosquitto 2.0.11, which restores a session but not its shared subscription over a
restart, has nothing to forget). The client id gets a random suffix at every start, so
nobody can predict it to take the collector's connection over. Delivery is end to end:
after each commit HQ publishes, retained, the highest contiguous seq it holds of each
counter it heard from (``confirmed``); the counter re-publishes what is not confirmed.

No message can stop collection for the others: each is validated (sync/inbound.py)
before it is stored, a message that fails validation or cannot be stored on its own is
quarantined with its reason, and the writer thread catches everything. The watchdog is
fed only while messages are being stored (or nothing is waiting).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.errors import ParseError
from hq.broker_errors import _hint, connect_error
from hq.db import now_iso
from hq.publish import results as content_results
from hq.repair import Repairer
from hq.store import HqStore, IngestResult
from sync import inbound
from sync.health import Beat, NoBeat
from sync.topics import SHARE_GROUP, Topics, hq_filters, split_device_topic

log = logging.getLogger("hq")

_TICK: Any = object()  # the writer's timer woke it, no message


@dataclass
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "kiosk-hq-1"  # a prefix: each start adds a random suffix
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
    rejected: int = 0  # quarantined
    statuses: int = 0  # state and health messages stored
    work_orders: int = 0
    batches: int = 0
    confirmations: int = 0
    resends: int = 0
    repairs: int = 0  # repair passes done
    store_failures: int = 0  # batches the database refused (tried again)
    connects: int = 0
    rejects: list[str] = field(default_factory=list)


def replayed_flag(msg: mqtt.MQTTMessage) -> bool:
    props = getattr(msg, "properties", None)
    for key, value in getattr(props, "UserProperty", None) or []:
        if key == "replayed" and value == "true":
            return True
    return False


class _LastError(logging.Handler):
    """Keeps paho's latest warning or error (a TLS alert arrives only as a log line)."""

    text = ""

    def emit(self, record: logging.LogRecord) -> None:
        _LastError.text = record.getMessage()


class Collector:
    def __init__(self, store: HqStore, opts: BrokerOptions, *, batch_max: int = 500,
                 repair_s: float = 10.0, resend_timeout_s: float = 60.0,
                 heartbeat: Beat | None = None) -> None:
        self.store = store
        self.opts = opts
        self.batch_max = batch_max
        self.repair_s = repair_s
        self.repairer = Repairer(timeout_s=resend_timeout_s)
        self.client_id = f"{opts.client_id}-{secrets.token_hex(6)}"
        # Beaten after a commit, or when nothing waits to be stored (the shell's watchdog).
        self.heartbeat: Beat = heartbeat or NoBeat()
        self.stats = CollectorStats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.stopped = threading.Event()
        self.committed = threading.Condition()  # notified after every batch (tests, bench)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._generation = 0  # connection number: an ack belongs to its connection
        self._writer: threading.Thread | None = None
        self._net: threading.Thread | None = None
        self._dropped = threading.Event()  # the current connection ended
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        o = self.opts
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True,
                             reconnect_on_failure=False)
        if o.tls:
            client.tls_set(ca_certs=o.ca_file or None, certfile=o.cert_file or None,
                           keyfile=o.key_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if o.username:
            client.username_pw_set(o.username, o.password or None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        # paho's warnings and errors (not its per-packet debug lines: on_log would format
        # two of them for every message) go to our log and give a disconnect its reason.
        paho_log = logging.getLogger("hq.paho")
        paho_log.setLevel(logging.WARNING)
        if not any(isinstance(h, _LastError) for h in paho_log.handlers):
            paho_log.addHandler(_LastError())
        client.enable_logger(paho_log)
        return client

    # ------------------------------------------------------------------ paho thread

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason_code: Any,
                    _p: Any) -> None:
        if reason_code.is_failure:
            log.error("the broker refused the collector %s: %s", self.client_id, reason_code)
            return
        self._generation += 1
        self.stats.connects += 1
        _LastError.text = ""
        # A clean start has no subscriptions: subscribe on every connection.
        client.subscribe([(f, 1) for f in hq_filters(self.opts.prefix, self.opts.share)
                          .values()])
        log.info("collector %s connected to %s:%d", self.client_id, self.opts.host,
                 self.opts.port)
        self.connected.set()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reason_codes: Any, _p: Any) -> None:
        bad = [str(rc) for rc in reason_codes if rc.is_failure]
        if bad:
            log.error("the broker refused the collector's subscriptions: %s", ", ".join(bad))
            return
        log.info("collector %s subscribed (share group %s)", self.client_id, self.opts.share)
        self.subscribed.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self._dropped.set()
        if not self.stopped.is_set():
            last = _LastError.text
            log.warning("collector disconnected (%s%s%s); reconnecting", reason_code,
                        f"; {last}" if last else "",
                        _hint(last, bool(self.opts.cert_file)) if self.opts.tls else "")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.put((self._generation, msg))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._net = threading.Thread(target=self._net_loop, name="hq-net", daemon=True)
        self._net.start()
        self._writer = threading.Thread(target=self._write_loop, name="hq-writer",
                                        daemon=True)
        self._writer.start()

    def _net_loop(self) -> None:
        """Connect, run until the connection ends, connect again: after any disconnect."""
        # Short waits: after a broker restart the collector must be subscribed again
        # before the counters' backlogs arrive, or the broker drops them for want of a
        # subscriber (the counters re-publish, but that costs time and duplicates).
        o, delay = self.opts, 0.2
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0  # the session ends with the connection
        while not self.stopped.is_set():
            try:
                self.client.connect(o.host, o.port, keepalive=o.keepalive_s,
                                    clean_start=True, properties=props)
            except (OSError, ValueError) as exc:
                log.error("collector cannot connect to %s:%d: %s", o.host, o.port,
                          connect_error(exc, o.host))
                # A refused connection (the broker restarting) costs nothing to retry.
                self.stopped.wait(0.1 if isinstance(exc, ConnectionRefusedError) else delay)
                delay = min(1.0, delay * 2)
                continue
            started = time.monotonic()
            # paho's own network thread (loop_start): acks and confirmations queued by
            # the writer wake it through its socket pair, and only it writes the socket.
            self._dropped.clear()
            self.client.loop_start()
            self._dropped.wait()  # set by on_disconnect, or by stop()
            self.client.loop_stop()
            if time.monotonic() - started > 10:
                delay = 0.2
            if not self.stopped.is_set():
                self.stopped.wait(delay)
                delay = min(1.0, delay * 2)

    def stop(self) -> None:
        self.stopped.set()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(timeout=10)
        try:
            self.client.disconnect()
        except Exception:  # stopping anyway
            log.debug("disconnect on stop failed", exc_info=True)
        self._dropped.set()
        if self._net is not None:
            self._net.join(timeout=10)

    # ------------------------------------------------------------------ writer thread

    def _write_loop(self) -> None:
        next_repair = time.monotonic() + self.repair_s
        retry: list[tuple[int, mqtt.MQTTMessage]] = []
        delay = 0.5
        while True:
            if retry:
                # The database refused even the quarantine: wait, try the same again, and
                # let the watchdog go stale meanwhile (systemd restarts a stuck HQ).
                if self.stopped.wait(delay):
                    return
                delay = min(5.0, delay * 2)
                if self._safe_process(retry):
                    retry, delay = [], 0.5
                continue
            try:
                first = self._queue.get(timeout=max(0.01, next_repair - time.monotonic()))
            except queue.Empty:
                first = None if self.stopped.is_set() else _TICK
            if time.monotonic() >= next_repair:
                next_repair = time.monotonic() + self.repair_s
                try:
                    self.repair()
                except Exception:
                    log.exception("gap repair failed")
            if first is _TICK:
                self.heartbeat.beat()  # nothing is waiting to be stored
                continue
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            if not self._safe_process(batch):
                retry = batch
            if stop:
                return

    def _safe_process(self, batch: list[tuple[int, mqtt.MQTTMessage]]) -> bool:
        try:
            ok = self._process(batch)
        except Exception:
            # Not reached by design (each message is isolated); if so, try them again.
            log.exception("could not process %d messages", len(batch))
            ok = False
        if ok:
            self.heartbeat.beat()
        else:
            self.stats.store_failures += 1
        return ok

    def _process(self, batch: list[tuple[int, mqtt.MQTTMessage]]) -> bool:
        """Store or quarantine every message, then acknowledge them. False when the
        database is unavailable (nothing acknowledged: they come back)."""
        events: list[tuple[int, mqtt.MQTTMessage, list[dict[str, Any]]]] = []
        statuses: list[tuple[mqtt.MQTTMessage, str, str, str, dict[str, Any]]] = []
        done: list[tuple[int, mqtt.MQTTMessage]] = []
        prefix = self.opts.prefix
        for gen, msg in batch:
            self.stats.messages += 1
            site, device, payload = "", "", bytes(msg.payload)
            try:
                if (where := content_results.result_topic(prefix, msg.topic)) is not None:
                    site, device, kind = where  # what a counter did with site content
                    content_results.record(self.store.db, site, device,
                                           content_results.parse_result(payload, kind))
                    done.append((gen, msg))
                    continue
                site, device, leaf = split_device_topic(prefix, msg.topic)
                if leaf == "events":
                    evs = inbound.events_payload(payload, site, device)
                    events.append((gen, msg, evs))
                    continue
                if leaf in ("state", "health"):
                    if payload:  # an empty retained message clears the topic
                        statuses.append((msg, site, device, leaf,
                                         inbound.status_payload(payload, leaf)))
                    done.append((gen, msg))
                    continue
                raise ParseError(f"HQ does not collect {leaf!r} messages")
            except ParseError as exc:
                if not self._quarantine(site, device, msg, str(exc)):
                    return False
                done.append((gen, msg))
        if events and not self._store(events):
            return False
        done += [(gen, msg) for gen, msg, _e in events]
        if statuses and not self._store_statuses(statuses):
            return False
        for gen, msg in done:
            if msg.qos > 0 and gen == self._generation:
                self.client.ack(msg.mid, msg.qos)
        self.stats.batches += 1
        with self.committed:
            self.committed.notify_all()
        return True

    def _store(self, events: list[tuple[int, mqtt.MQTTMessage, list[dict[str, Any]]]]) -> bool:
        pairs = [(ev, replayed_flag(msg)) for _g, msg, evs in events for ev in evs]
        try:
            self._stored(self.store.ingest(pairs))
            return True
        except Exception:
            log.warning("a batch of %d events could not be stored; storing its messages "
                        "one by one", len(pairs), exc_info=True)
        for _g, msg, evs in events:
            try:
                self._stored(self.store.ingest([(ev, replayed_flag(msg)) for ev in evs]))
            except Exception as exc:  # this message's fault, on record
                site, device = evs[0]["site"], evs[0]["device"]
                if not self._quarantine(site, device, msg, f"could not be stored: {exc}"):
                    return False
        return True

    def _store_statuses(self, statuses: list[tuple[mqtt.MQTTMessage, str, str, str,
                                                    dict[str, Any]]]) -> bool:
        try:
            self.store.set_statuses([(site, device, leaf, doc)
                                     for _m, site, device, leaf, doc in statuses])
            self.stats.statuses += len(statuses)
            return True
        except Exception:
            log.warning("%d state/health messages could not be stored together; storing "
                        "them one by one", len(statuses), exc_info=True)
        for msg, site, device, leaf, doc in statuses:
            try:
                self.store.set_status(site, device, leaf, doc)
                self.stats.statuses += 1
            except Exception as exc:  # one message's fault, on record
                if not self._quarantine(site, device, msg, f"could not be stored: {exc}"):
                    return False
        return True

    def _stored(self, res: IngestResult) -> None:
        self.stats.new += res.new
        self.stats.duplicates += res.duplicates
        self.stats.work_orders += len(res.work_orders)
        self._confirm(res.confirmed)

    def _quarantine(self, site: str, device: str, msg: mqtt.MQTTMessage, reason: str) -> bool:
        self.stats.rejected += 1
        if len(self.stats.rejects) < 100:
            self.stats.rejects.append(f"{msg.topic}: {reason}")
        log.warning("quarantined a message on %s: %s", msg.topic, reason)
        try:
            self.store.quarantine(site, device, msg.topic, reason, bytes(msg.payload))
            return True
        except Exception:
            log.exception("the HQ database is unavailable; messages wait unacknowledged")
            return False

    def _confirm(self, heads: dict[tuple[str, str], int]) -> None:
        ts = now_iso()
        for (site, device), upto in heads.items():
            topic = Topics(self.opts.prefix, site, device).confirmed
            self.client.publish(topic, json.dumps({"upto": upto, "ts": ts}), qos=1,
                                retain=True)
            self.stats.confirmations += 1

    def repair(self) -> list[tuple[str, str, int, int]]:
        """Ask counters to send again what HQ is missing (sync/repair.py says when)."""
        rows = []
        for row in self.store.integrity():
            key = (row["site"], row["device"])
            head = self.store.device_head_seq(*key) if not row["gaps"] else None
            rows.append((key, self.repairer.wanted(row, head)))
        asked = []
        for (site, device), first, last in self.repairer.plan(rows):
            self._ask_resend(site, device, first, last)
            asked.append((site, device, first, last))
        self.stats.repairs += 1
        return asked

    def _ask_resend(self, site: str, device: str, first: int, last: int) -> None:
        topic = Topics(self.opts.prefix, site, device).command("resend")
        body = {"id": f"hq-{secrets.token_hex(6)}", "from_seq": first, "to_seq": last}
        log.warning("asking %s/%s to resend seq %d..%d", site, device, first, last)
        self.stats.resends += 1
        self.client.publish(topic, json.dumps(body), qos=1)

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after some commit, or ``timeout``."""
        with self.committed:
            return self.committed.wait_for(lambda: predicate(self), timeout=timeout)
