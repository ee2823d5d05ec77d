"""The durable print-job queue contract (device/printjobs.py) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.printjobs import PrintJob
from device.store import Store


def test_jobs_come_back_in_order_and_leave_when_marked(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db", site="s", device="d")
    store.append([], also=[store.enqueue_print(PrintJob("ticket", {"number": "A001"})),
                           store.enqueue_print(PrintJob("checklist", {"service_name": "换领"}))])
    jobs = store.pending_prints()
    assert [(j.kind, j.data) for j in jobs] == [
        ("ticket", {"number": "A001"}), ("checklist", {"service_name": "换领"})]
    store.append([], also=[store.mark_printed(jobs[0].id)])
    assert [j.kind for j in store.pending_prints()] == ["checklist"]


def test_unknown_kind_from_a_newer_release_does_not_stall_the_queue(tmp_path: Path) -> None:
    store = Store(tmp_path / "k.db", site="s", device="d")
    with store.transaction() as conn:
        conn.execute("INSERT INTO print_jobs (kind, body, created_ts) VALUES "
                     "('future_kind', '{}', '2026-01-01T00:00:00Z')")
    store.append([], also=[store.enqueue_print(PrintJob("ticket", {"number": "A002"}))])
    assert [j.kind for j in store.pending_prints()] == ["ticket"]
    # It is kept, not dropped: a later release still prints it.
    assert store.conn.execute(
        "SELECT count(*) FROM print_jobs WHERE printed_ts IS NULL").fetchone()[0] == 2


def test_constructor_rejects_an_unknown_kind_and_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="kinds are"):
        PrintJob("poster", {})
