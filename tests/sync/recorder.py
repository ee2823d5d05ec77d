"""A publish sink for broker-less tests: stands where the paho client stands (the
network), records every message and hands out acknowledgements like a broker would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    replayed: bool
    mid: int

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class RecordingSink:
    """:class:`sync.sink.Sink` that records. ``refuse`` makes it refuse locally (None)."""

    messages: list[Message] = field(default_factory=list)
    refuse: bool = False
    _acked: int = 0  # messages[:_acked] were acknowledged already

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False,
                replayed: bool = False) -> int | None:
        if self.refuse:
            return None
        mid = len(self.messages) + 1
        self.messages.append(Message(topic, payload, qos, retain, replayed, mid))
        return mid

    def acks(self, reason_code: int = 0) -> list[tuple[int, int]]:
        """(mid, reason code) of every QoS 1 message not acknowledged yet, as the broker's
        PUBACKs would come back, in order."""
        new, self._acked = self.messages[self._acked:], len(self.messages)
        return [(m.mid, reason_code) for m in new if m.qos == 1]

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]
