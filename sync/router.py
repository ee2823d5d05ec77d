"""kiosk-sync's downlink router: each message from HQ to its handler by topic (site
content, commands, HQ's confirmation), validated before anything changes
(sync/downlink.py parses, sync/confirm.py tracks what HQ holds).

Run on the Syncer's one thread; a test feeds :meth:`DownlinkRouter.handle` messages
straight, no broker. Content and commands are answered on their result topics through
the :class:`~sync.sink.Sink`, also when they were refused.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from typing import Any

from device.errors import ParseError
from device.store import Store
from sync import confirm, downlink
from sync.health import Reporter
from sync.outbox import OutboxPublisher
from sync.sink import Sink
from sync.stats import Stats
from sync.topics import CONTENT_KINDS, Topics

log = logging.getLogger("sync")

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,64}")

Result = tuple[str, dict[str, Any]]  # (result topic, the result sent)


class DownlinkRouter:
    """Topic -> handler for everything the counter subscribes to."""

    def __init__(self, store: Store, topics: Topics, sink: Sink, *, outbox: OutboxPublisher,
                 reporter: Reporter, confirmations: confirm.Confirmations,
                 stats: Stats) -> None:
        self.store = store
        self.topics = topics
        self.sink = sink
        self.outbox = outbox  # resend and confirmation rounds re-queue through it
        self.reporter = reporter  # content changes the state; commands ask for it
        self.confirmations = confirmations
        self.stats = stats
        self._older: dict[str, dict[str, Any]] = {}  # content refused as older, by kind

    def handle(self, topic: str, payload: bytes) -> Result | None:
        """Validate and apply one downlink message; returns (result topic, result) it sent."""
        t = self.topics
        if topic == t.confirmed:
            self._on_confirmed(payload)
            return None
        for kind in CONTENT_KINDS:
            if topic == t.content(kind):
                return self._content(kind, payload)
        prefix = t.root + "/cmd/"
        if topic.startswith(prefix) and "/" not in topic[len(prefix):]:
            return self._command(topic[len(prefix):], payload)
        log.warning("message on unexpected topic %s ignored", topic)
        return None

    # ------------------------------------------------------------------ end to end

    def _on_confirmed(self, payload: bytes) -> None:
        """HQ's receipt: kept in the store; nothing is answered (HQ reads our health)."""
        if not payload:
            return  # HQ cleared it (e.g. the counter was re-provisioned): keep ours
        try:
            self.confirmations.update(confirm.parse_confirmed(payload))
        except ParseError as exc:
            log.warning("%s", exc)
        else:
            self.stats.confirmations += 1

    def resend_unconfirmed(self, now_mono: float) -> None:
        """Sent long enough ago and still not confirmed: publish again (replayed)."""
        if self.confirmations.upto is None:
            return
        first, last = self.confirmations.due(now_mono)
        if last:
            self.outbox.replay(first, last)

    # ------------------------------------------------------------------ content

    def _content(self, kind: str, payload: bytes) -> Result | None:
        if not payload:
            return None  # HQ cleared the retained message: keep what we have
        doc = None
        try:
            doc = downlink.parse_content(kind, payload)
            applied = downlink.apply_content(self.store, kind, doc)
            result = downlink.content_result(kind, doc["version"], applied=applied)
            if applied:
                self.stats.content_applied += 1
                log.info("%s version %s applied", kind, doc["version"])
                self.reporter.publish_state()
        except ParseError as exc:
            self.stats.content_rejected += 1
            log.warning("%s rejected: %s", kind, exc)
            if isinstance(exc, downlink.OlderVersion) and doc is not None:
                self._older[kind] = doc  # a rollback command for it applies it at once
            result = downlink.content_result(kind, None, applied=False, error=str(exc))
        except sqlite3.Error as exc:
            result = downlink.content_result(kind, None, applied=False,
                                             error=f"could not store it: {exc}")
        return self._reply(self.topics.content_result(kind), result)

    # ------------------------------------------------------------------ commands

    def _command(self, name: str, payload: bytes) -> Result | None:
        """Every command gets a result: its own, or an error naming what was wrong."""
        self.stats.commands += 1
        safe_name = name if _COMMAND_NAME.fullmatch(name) else "invalid"
        try:
            doc = downlink.parse_command(name, payload)
            out = self._run_command(name, doc)
        except (ParseError, sqlite3.Error) as exc:
            result = downlink.command_result(safe_name, downlink.request_id(payload),
                                             error=str(exc))
            return self._reply(self.topics.command_result(safe_name), result)
        except Exception as exc:  # a bug of ours: still answer, and keep the uplink going
            log.exception("command %s failed", safe_name)
            result = downlink.command_result(safe_name, downlink.request_id(payload),
                                             error=f"internal error: {type(exc).__name__}")
            return self._reply(self.topics.command_result(safe_name), result)
        return self._reply(self.topics.command_result(name),
                           downlink.command_result(name, doc["id"], result=out))

    def _rollback(self, doc: dict[str, Any]) -> dict[str, Any]:
        """HQ's explicit order to go back to an older content version: recorded in the
        store (and logged), applied now if that document already came, else when it does."""
        kind, version = doc["kind"], doc["version"]
        self.store.allow_rollback(kind, version)
        log.warning("HQ ordered a rollback of %s to version %s (command %s)", kind, version,
                    doc["id"])
        pending = self._older.get(kind)
        if pending is None or pending["version"] != version:
            return {"kind": kind, "version": version, "applied": False}
        applied = downlink.apply_content(self.store, kind, pending)
        del self._older[kind]
        self._reply(self.topics.content_result(kind),
                    downlink.content_result(kind, version, applied=applied))
        self.reporter.publish_state()
        return {"kind": kind, "version": version, "applied": applied}

    def _run_command(self, name: str, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if name == "ping":
            out = {"head_seq": self.store.head()[0], "unsent": self.store.count_unsent()}
        elif name == "publish_state":
            self.reporter.forget_state()
            self.reporter.publish_state()
        elif name == "publish_health":
            self.reporter.publish_health()
        elif name == "resend":
            # parse_command bounded the range (at most MAX_RESEND events).
            out = {"requeued": self.store.requeue_range(doc["from_seq"], doc["to_seq"])}
            self.outbox.rewind(doc["from_seq"])
        elif name == "rollback":
            out = self._rollback(doc)
        return out

    def _reply(self, topic: str, result: dict[str, Any]) -> Result:
        self.sink.publish(topic, json.dumps(result, ensure_ascii=False).encode(), qos=1)
        return topic, result
