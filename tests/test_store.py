"""The SQLite store on real files: migrations, pragmas, seq across restarts, corruption
handling, the outbox, and shedding that never touches a rating."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import device.store as store_mod
from device.errors import StoreError
from device.events import GENESIS, Draft, EventType, verify_chain
from device.migrations import MIGRATIONS
from device.store import Store, connect, migrate


def open_store(path: Path) -> Store:
    return Store(path, site="s1", device="w01")


def rating(n: int) -> Draft:
    return Draft(EventType.RATING_GIVEN, {"case_no": f"C-{n}", "level": "satisfied"})


def rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read through a second, independent connection (as the sync process does)."""
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def bodies(path: Path) -> list[dict]:
    return [json.loads(b) for (b,) in rows(path, "SELECT body FROM events ORDER BY seq")]


# ------------------------------------------------------------------ schema


def test_fresh_db_has_every_table_and_records_every_migration(store: Store) -> None:
    declared = {t for _, sql in MIGRATIONS
                for t in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql)}
    tables = {r[0] for r in rows(store.path, "SELECT name FROM sqlite_master "
                                              "WHERE type = 'table'")}
    assert declared <= tables and {"events", "meta", "counter_state"} <= declared
    applied = [r[0] for r in rows(store.path, "SELECT name FROM schema_migrations ORDER BY 1")]
    assert applied == sorted(name for name, _ in MIGRATIONS)


def test_migrations_apply_once(store: Store) -> None:
    assert migrate(store.conn) == []  # second run: nothing to do
    store.close()
    again = open_store(store.path)  # and on reopen
    try:
        assert migrate(again.conn) == []
        n = rows(again.path, "SELECT count(*) FROM schema_migrations")[0][0]
        assert n == len(MIGRATIONS)
    finally:
        again.close()


def test_migration_names_are_unique_and_sorted() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert names == sorted(names)  # they apply in this order


def test_failed_migration_is_rolled_back_and_not_recorded(tmp_path: Path, monkeypatch) -> None:
    broken = [*MIGRATIONS, ("0999_broken", "CREATE TABLE half (x INTEGER);\nNOT SQL;")]
    monkeypatch.setattr(store_mod, "MIGRATIONS", broken)
    conn = connect(tmp_path / "k.db")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    names = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "0999_broken" not in names and "half" not in tables
    assert {name for name, _ in MIGRATIONS} == names  # the good ones stayed


def test_wal_and_synchronous_full(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL is a property of the file: the sync process's connection sees it too.
    assert rows(store.path, "PRAGMA journal_mode") == [("wal",)]


# ------------------------------------------------------------------ events


def test_append_seals_a_chain_that_verifies(store: Store) -> None:
    events = store.append([rating(1), rating(2)])
    events += store.append([Draft(EventType.DEVICE_BOOT, {"version": "x"})])
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev == GENESIS and events[1].prev == events[0].hash
    assert store.head() == (3, events[-1].hash)
    stored = bodies(store.path)
    assert verify_chain(stored, start_prev=GENESIS) == []
    assert [e["id"] for e in stored] == [e.id for e in events]
    crit = rows(store.path, "SELECT seq, critical FROM events ORDER BY seq")
    assert crit == [(1, 1), (2, 1), (3, 0)]


def test_seq_and_chain_survive_reopen(store: Store) -> None:
    store.append([rating(1), rating(2), rating(3)])
    head = store.head()
    store.close()
    again = open_store(store.path)
    try:
        assert again.head() == head
        (ev,) = again.append([rating(4)])
        assert ev.seq == 4 and ev.prev == head[1]
        assert verify_chain(bodies(again.path), start_prev=GENESIS) == []
    finally:
        again.close()


def test_state_is_written_with_its_events(store: Store) -> None:
    store.append([rating(1)], state={"mode": "idle", "rated_case": "C-1"})
    assert store.load_state() == {"mode": "idle", "rated_case": "C-1"}
    assert rows(store.path, "SELECT body FROM counter_state") == [
        ('{"mode": "idle", "rated_case": "C-1"}',)]


def test_failing_writer_rolls_back_everything(store: Store) -> None:
    store.append([rating(1)], state={"mode": "idle"})

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(StoreError, match="could not commit"):
        store.append([rating(2)], state={"mode": "rating"}, also=[bad])
    assert rows(store.path, "SELECT seq FROM events") == [(1,)]
    assert store.load_state() == {"mode": "idle"}
    assert store.append([rating(3)])[0].seq == 2  # no seq was burnt


def test_empty_append_changes_nothing(store: Store) -> None:
    assert store.append([]) == []
    assert store.head() == (0, GENESIS)


# ------------------------------------------------------------------ outbox


def test_outbox_mark_sent_and_prune(store: Store) -> None:
    store.append([rating(i) for i in range(1, 7)])
    assert store.count_unsent() == 6
    store.mark_sent([1, 2, 3])
    store.mark_sent([1])  # again: keeps the first sent_at
    assert [e["seq"] for e in store.events(unsent_only=True)] == [4, 5, 6]
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    conn = sqlite3.connect(str(store.path))
    conn.execute("UPDATE events SET sent_at = ? WHERE seq IN (1, 2)", (old,))
    conn.execute("UPDATE events SET ts = ? WHERE seq = 4", (old,))  # old but unsent
    conn.commit()
    conn.close()
    assert store.prune_sent(30) == 0  # HQ confirmed nothing: sent is not enough
    store.set_hq_confirmed(1)
    assert store.prune_sent(30) == 1  # seq 1 only: HQ does not confirm seq 2 yet
    store.set_hq_confirmed(6)
    assert store.prune_sent(30) == 1
    assert [r[0] for r in rows(store.path, "SELECT seq FROM events ORDER BY seq")] == [
        3, 4, 5, 6]
    assert store.prune_sent(0) == 1  # seq 3 was sent just now
    assert store.count_unsent() == 3 and store.head()[0] == 6


def test_mark_sent_handles_runs_gaps_and_disorder(store: Store) -> None:
    store.append([rating(i) for i in range(1, 11)])
    store.mark_sent([9, 2, 3, 4, 7, 3])  # acks out of order, one twice, with gaps
    assert [e["seq"] for e in store.events(unsent_only=True)] == [1, 5, 6, 8, 10]


def test_second_process_never_moves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    garbage = b"not a database" * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match="start the kiosk service first"):
        Store(path, site="s", device="d", check_integrity=False)
    assert path.read_bytes() == garbage and _corrupt_files(path) == []


def test_second_connection_reads_the_outbox_and_sees_data_version(store: Store) -> None:
    reader = connect(store.path)
    try:
        v0 = reader.execute("PRAGMA data_version").fetchone()[0]
        store.append([rating(1)])
        assert reader.execute("PRAGMA data_version").fetchone()[0] != v0
        assert reader.execute("SELECT seq FROM events WHERE sent_at IS NULL").fetchall() == [
            (1,)]
    finally:
        reader.close()


def test_shed_telemetry_never_deletes_critical_events(store: Store) -> None:
    blob = "x" * 2000
    for i in range(40):
        store.append([rating(i), Draft(EventType.DEVICE_FAULT,
                                       {"component": "sign", "detail": blob}),
                      Draft(EventType.DEVICE_BOOT, {"version": blob})])
    critical_before = rows(store.path, "SELECT seq, body FROM events WHERE critical = 1")
    shed = store.shed_telemetry(keep_below_bytes=1)  # impossible: sheds all it may
    assert shed == 80
    assert rows(store.path, "SELECT seq, body FROM events ORDER BY seq") == critical_before
    assert store.shed_telemetry(keep_below_bytes=1) == 0
    assert store.integrity_ok()
    assert store.append([rating(99)])[0].seq == 121  # seq does not go back


# ------------------------------------------------------------------ corruption


def _corrupt_files(path: Path) -> list[Path]:
    # The -wal/-shm files (if any) are moved along with it, under the same name.
    return sorted(p for p in path.parent.iterdir()
                  if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm")))


def test_non_database_file_is_moved_aside_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    garbage = b"this is not a database, it is a shopping list\n" * 100
    path.write_bytes(garbage)
    s = open_store(path)
    try:
        (moved,) = _corrupt_files(path)
        assert moved.read_bytes() == garbage  # kept, never deleted
        assert s.open_report.corrupt_moved_to == moved
        (fault,) = s.events()
        assert fault["type"] == "device.fault" and fault["seq"] == 1
        assert fault["data"]["component"] == "store"
        assert fault["data"]["fault"] == "integrity_check_failed"
        assert fault["data"]["moved_to"] == moved.name
        assert s.integrity_ok()
    finally:
        s.close()


def _fill(path: Path, n: int, sent: int) -> tuple[int, str]:
    s = open_store(path)
    for i in range(1, n + 1):
        s.append([rating(i)], state={"mode": "idle"})
    s.mark_sent(list(range(1, sent + 1)))
    head = s.head()
    s.close()  # the last connection checkpoints the WAL into the file
    return head


def _page_of(path: Path, name: str) -> tuple[int, int]:
    page_size = rows(path, "PRAGMA page_size")[0][0]
    root = rows(path, "SELECT rootpage FROM sqlite_master WHERE name = ?", (name,))[0][0]
    return (root - 1) * page_size, page_size


def test_corrupt_index_page_salvages_unsent_events_and_continues_the_chain(
        tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    last_seq, last_hash = _fill(path, 30, sent=10)
    before = {e["seq"]: e for e in bodies(path)}
    # Garbage over the page of the index on events.id, in the middle of the file: the
    # table itself stays readable, so the unsent events can be salvaged.
    offset, size = _page_of(path, "sqlite_autoindex_events_1")
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(b"\xde\xad\xbe\xef" * (size // 4))
    corrupted = path.read_bytes()

    s = open_store(path)
    try:
        (moved,) = _corrupt_files(path)
        assert moved.read_bytes() == corrupted
        report = s.open_report
        assert report.salvaged_events == 20 and report.reason
        events = s.events()
        assert [e["seq"] for e in events] == list(range(11, 32))
        for e in events[:-1]:  # salvaged byte for byte
            assert {k: v for k, v in e.items() if k != "sent_at"} == before[e["seq"]]
        fault = events[-1]
        assert fault["type"] == "device.fault" and fault["prev"] == last_hash
        assert fault["data"]["salvaged_unsent"] == 20
        assert verify_chain(events) == []  # the chain continues where it was
        assert s.head()[0] == last_seq + 1 and s.integrity_ok()
    finally:
        s.close()


def test_garbage_in_the_middle_of_a_real_db_starts_a_fresh_one(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    _fill(path, 200, sent=0)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8192] = b"\x00\xff" * 4096
    path.write_bytes(bytes(data))
    s = open_store(path)
    try:
        (moved,) = _corrupt_files(path)
        assert moved.read_bytes() == bytes(data)
        fault = s.events()[-1]
        assert fault["type"] == "device.fault"
        assert fault["data"]["fault"] == "integrity_check_failed"
        assert s.integrity_ok()
        # What was read before the bad page is kept as it was; the fault continues the
        # chain from the old head, so HQ sees a gap explained by the fault, not a reset.
        events = s.events()
        assert [e["seq"] for e in events[:-1]] == list(range(1, len(events)))
        assert verify_chain(events[:-1], start_prev=GENESIS) == []
        assert fault["seq"] == 201 and s.head()[0] == 201
        assert fault["data"]["salvaged_unsent"] == len(events) - 1
    finally:
        s.close()


def test_healthy_db_is_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    _fill(path, 3, sent=0)
    s = open_store(path)
    try:
        assert _corrupt_files(path) == [] and s.open_report.corrupt_moved_to is None
        assert [e["type"] for e in s.events()] == ["rating.given"] * 3
    finally:
        s.close()


def test_damaged_chain_head_falls_back_to_the_newest_event_and_state_is_kept(
        tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    s = open_store(path)
    for i in range(1, 6):
        s.append([rating(i)], state={"mode": "idle", "auto_case_counter": i})
    last = s.head()
    s.close()
    offset, size = _page_of(path, "sqlite_autoindex_meta_1")  # the chain head's index
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(b"\x13" * size)
    s = open_store(path)
    try:
        assert len(_corrupt_files(path)) == 1
        events = s.events()
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
        assert events[-1]["prev"] == last[1] and verify_chain(events, GENESIS) == []
        # the counter resumes its own case numbering: no case number is issued twice
        assert s.load_state() == {"mode": "idle", "auto_case_counter": 5}
    finally:
        s.close()
