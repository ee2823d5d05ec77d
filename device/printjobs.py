"""Print jobs: what the counter asks the ticket printer to print, kept durably.

A job is written to ``print_jobs`` in the same transaction as the event that asked for
it, so a job the citizen was promised survives a crash. The printer driver prints
pending jobs in order and marks each printed (with its completion event, e.g.
``slip.printed``) in one transaction after the printer took all of it: never lost,
never printed twice. The layout of each kind lives in drivers/printer.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from device.store_types import Records, Writer

# ticket: queue ticket; checklist: one-time checklist slip (一次性告知单); notice: written
# notice of missing materials; refusal: written refusal with reason and legal basis;
# receipt: acceptance receipt with the promised date.
# referral: where to go with a matter that belongs elsewhere (首接负责); intake: the
# after-hours intake receipt (户口代办受理回执); home_visit: the home-visit appointment
# (上门服务预约单).
JOB_KINDS = ("ticket", "checklist", "notice", "refusal", "receipt", "referral", "intake",
             "home_visit")


@dataclass(frozen=True)
class PrintJob:
    kind: str
    data: dict[str, Any]
    id: int = 0  # assigned by the store

    def __post_init__(self) -> None:
        if self.kind not in JOB_KINDS:
            raise ValueError(f"unknown print job kind {self.kind!r}; kinds are {JOB_KINDS}")


class PrintQueue(Records):
    """Store methods on ``print_jobs``: enqueue, pending, printed, failed attempt."""

    @staticmethod
    def enqueue_print(job: PrintJob) -> Writer:
        """A writer that adds ``job`` to the queue inside the caller's transaction."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO print_jobs (kind, body, created_ts) VALUES (?, ?, ?)",
                (job.kind, json.dumps(job.data, ensure_ascii=False), _now()),
            )

        return write

    @staticmethod
    def mark_printed(job_id: int) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE print_jobs SET printed_ts = ? WHERE id = ? AND printed_ts IS NULL",
                (_now(), job_id),
            )

        return write

    def pending_prints(self, limit: int = 20) -> list[PrintJob]:
        """Unprinted jobs, oldest first."""
        # A kind this version does not know (a job written by a newer release before a
        # rollback) stays pending for that release instead of stalling the whole queue.
        marks = ", ".join("?" for _ in JOB_KINDS)
        rows = self._dicts(
            f"SELECT id, kind, body FROM print_jobs WHERE printed_ts IS NULL AND kind IN "
            f"({marks}) ORDER BY id LIMIT ?", (*JOB_KINDS, limit))
        return [PrintJob(kind=r["kind"], data=json.loads(r["body"]), id=r["id"]) for r in rows]

    def print_failed(self, job_id: int, error: str) -> None:
        """Count a failed attempt at ``job_id`` and keep why (the job stays pending)."""
        with self.transaction() as conn:
            conn.execute("UPDATE print_jobs SET attempts = attempts + 1, last_error = ? "
                         "WHERE id = ?", (error, job_id))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
