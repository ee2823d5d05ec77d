"""What the Store and its mixins share: the writer type and the handles they use.

The Store is one class made of small mixins, one per table group (queue, site content,
print jobs, shedding, ...), so that every SQL statement on kiosk.db sits behind a named
method and no module outside the store writes SQL. A mixin only declares what it uses;
:class:`device.store.Store` provides it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import sqlite_utils

# A write that runs inside the caller's transaction (Store.append's ``also``): the way a
# ticket, a print job or a called mark commits together with the event that caused it.
Writer = Callable[[sqlite3.Connection], None]


class Records:
    """The handles a Store mixin uses."""

    conn: sqlite3.Connection
    db: sqlite_utils.Database
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def _dicts(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        # sqlite-utils' query names the columns, so a reader says row["priority"], not r[4].
        with self._lock:
            return list(self.db.query(sql, params))

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self._lock:
            row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None
