"""The HQ schema before it moved onto Django's migrations (kiosk-hq 0.1).

A database made by that release records its version in ``hq_meta``. Version 1 is brought
to version 2 by the steps below, exactly as 0.1 did; version 2 is the schema the first
Django migrations describe, so Django then takes it over with ``--fake-initial``. Never
edit these steps: they are history.
"""

from __future__ import annotations

from device.events import GENESIS

_DEVICES = """CREATE TABLE hq_devices (
        site          TEXT NOT NULL,
        device        TEXT NOT NULL,
        head_seq      BIGINT NOT NULL DEFAULT 0,
        head_hash     TEXT NOT NULL,
        problems      BIGINT NOT NULL DEFAULT 0,
        state         TEXT,
        health        TEXT,
        last_seen     TEXT,
        PRIMARY KEY (site, device)
    )"""
# A problem is one rejected event: kept with its body, never in hq_events.
_PROBLEMS = """CREATE TABLE hq_problems (
        site        TEXT NOT NULL,
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        kind        TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        detail      TEXT NOT NULL,
        body        TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        PRIMARY KEY (site, device, seq, kind, event_id)
    )"""

# Version 1, as it was first shipped (what a database of that age holds; tests build one).
SCHEMA_V1 = [
    """CREATE TABLE IF NOT EXISTS hq_events (
        id          TEXT PRIMARY KEY,
        site        TEXT NOT NULL,
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        ts          TEXT NOT NULL,
        type        TEXT NOT NULL,
        body        TEXT NOT NULL,
        replayed    INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS hq_events_device_seq ON hq_events (device, seq)",
    "CREATE INDEX IF NOT EXISTS hq_events_type_ts ON hq_events (type, ts)",
    """CREATE TABLE IF NOT EXISTS hq_devices (
        device     TEXT PRIMARY KEY,
        site       TEXT NOT NULL,
        head_seq   BIGINT NOT NULL DEFAULT 0,
        head_hash  TEXT NOT NULL,
        problems   BIGINT NOT NULL DEFAULT 0,
        state      TEXT,
        health     TEXT,
        last_seen  TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS hq_problems (
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        kind        TEXT NOT NULL,
        detail      TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        PRIMARY KEY (device, seq, kind)
    )""",
    """CREATE TABLE IF NOT EXISTS work_orders (
        id         TEXT PRIMARY KEY,
        site       TEXT NOT NULL,
        device     TEXT NOT NULL,
        officer    TEXT NOT NULL,
        case_no    TEXT NOT NULL,
        service    TEXT NOT NULL,
        level      TEXT NOT NULL,
        event_ts   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status     TEXT NOT NULL DEFAULT 'open'
    )""",
    "CREATE INDEX IF NOT EXISTS work_orders_officer ON work_orders (officer, event_ts)",
]

# Version n+1 = MIGRATIONS[n-1] applied to version n. Never edit a shipped step: add one.
MIGRATIONS: list[list[str]] = [
    [  # 1 -> 2: (site, device) identity; verified and simulated flags; quarantine.
        "ALTER TABLE hq_events ADD COLUMN verified INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE hq_events ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",
        "DROP INDEX hq_events_device_seq",
        "CREATE INDEX hq_events_site_device_seq ON hq_events (site, device, seq)",
        "CREATE TABLE hq_devices_v1 AS SELECT * FROM hq_devices",
        "DROP TABLE hq_devices",
        _DEVICES,
        # Heads start again at the genesis: the store re-walks every chain after this.
        f"INSERT INTO hq_devices (site, device, head_seq, head_hash, problems, state, "
        f"health, last_seen) SELECT site, device, 0, '{GENESIS}', 0, state, health, "
        f"last_seen FROM hq_devices_v1",
        "DROP TABLE hq_devices_v1",
        "DROP TABLE hq_problems",
        _PROBLEMS,
        "ALTER TABLE work_orders ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE hq_quarantine (
            id          TEXT PRIMARY KEY,
            site        TEXT NOT NULL,
            device      TEXT NOT NULL,
            topic       TEXT NOT NULL,
            reason      TEXT NOT NULL,
            size        BIGINT NOT NULL,
            head        TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        "CREATE INDEX hq_quarantine_device ON hq_quarantine (site, device)",
    ],
]
LEGACY_VERSION = 1 + len(MIGRATIONS)
