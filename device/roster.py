"""Who may sign in at the officer panel: the roster in force and its PIN hashes.

HQ publishes the station's roster as site content (kiosk-sync stores it; sync/schema.py
checks it on the way in); until it has, config.toml's ``[[roster]]`` is the roster.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from device.config import Config
from device.errors import ParseError
from device.pins import PinHash, parse
from device.store import Store

log = logging.getLogger("roster")


@dataclass(frozen=True)
class Officer:
    badge: str
    name: str
    pin: PinHash | None  # None: this officer has no PIN and cannot use the panel


def officers(config: Config, store: Store) -> dict[str, Officer]:
    """The roster in force by badge: HQ's when it sent one, else the config's."""
    stored = store.site_content("roster")
    if stored is not None:
        try:
            return _from_body(stored.body)
        except (ValueError, KeyError, TypeError, ParseError) as exc:
            # kiosk-sync checked it against the schema; a body it let through that
            # this cannot read is a bug to report, not a reason to lock officers out.
            log.error("roster: HQ's roster version %s unreadable (%s); using config.toml's",
                      stored.version, exc)
    return {o.badge: Officer(o.badge, o.name, parse(o.pin_hash) if o.pin_hash else None)
            for o in config.roster}


def _from_body(body: str) -> dict[str, Officer]:
    out: dict[str, Officer] = {}
    for i, o in enumerate(json.loads(body)["officers"]):
        pin = o.get("pin_hash") or ""
        out[str(o["badge"])] = Officer(
            str(o["badge"]), str(o["name"]),
            parse(pin, where=f"roster officers[{i}].pin_hash") if pin else None)
    return out
