"""Where kiosk-sync's messages leave the process: the one interface between its parts
and the network.

The Syncer implements it on its paho client; the outbox publisher, the downlink router
and the state reporter only ever call :meth:`Sink.publish`, so a test drives them with a
recorder in its place and no broker.
"""

from __future__ import annotations

from typing import Protocol


class Sink(Protocol):
    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False,
                replayed: bool = False) -> int | None:
        """Hand one message to the network. Returns its message id (a QoS 1 message's
        PUBACK comes back with it, to :meth:`OutboxPublisher.ack`), or None when it was
        not taken (no connection, or refused locally): the caller tries again later.
        ``replayed`` flags events sent before (a user property outside the envelope)."""
        ...
