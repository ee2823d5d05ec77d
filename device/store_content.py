"""The Store's methods on ``site_content``: what HQ sent the counter (sync.topics
CONTENT_KINDS: catalogue, roster, appointments, notices, results, holidays), one current
version per kind.

kiosk-sync validates a document before it is stored (sync/downlink.py); the readers
(device/catalogue.py, notices.py, results.py, holidays.py) parse it again and fall back
to the shipped default (or show nothing) when it does not parse, so a bad row never takes
the screen down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from device.errors import ParseError
from device.store_types import Records


def json_document(body: str, kind: str) -> dict[str, Any]:
    """A stored document's JSON object; ParseError naming ``kind`` otherwise."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ParseError(f"{kind}: site content is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{kind}: the document must be a JSON object")
    return doc


@dataclass(frozen=True)
class Content:
    kind: str
    version: str
    body: str  # the JSON document as HQ sent it


class ContentRecords(Records):
    """Store methods: :meth:`site_content`, :meth:`put_site_content`."""

    def site_content(self, kind: str) -> Content | None:
        """The stored document of ``kind`` (e.g. "notices", "results"), or None."""
        rows = self._dicts("SELECT version, body FROM site_content WHERE kind = ?", (kind,))
        return Content(kind, str(rows[0]["version"]), rows[0]["body"]) if rows else None

    def put_site_content(self, kind: str, version: str, body: str, updated_ts: str) -> None:
        """Store ``body`` as the current ``kind`` (tools and demos; kiosk-sync applies HQ's
        documents with their rollback copy through its own method)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO site_content (kind, version, body, updated_ts) "
                         "VALUES (?, ?, ?, ?)", (kind, version, body, updated_ts))
