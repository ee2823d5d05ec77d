"""The counters kiosk-sync keeps (logs, tests, the benchmarks): one object the
connection, the outbox publisher and the downlink router all count into."""

from __future__ import annotations

from dataclasses import dataclass


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
