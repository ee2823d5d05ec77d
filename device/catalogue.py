"""The service catalogue (办事指南): what each service needs, costs and takes, with a version.

The project ships ``catalogue_default.toml``; HQ replaces it over MQTT and the sync process
stores the replacement as ``site_content`` kind ``"catalogue"`` (the same fields, as JSON).
:class:`CatalogueSource` prefers a valid stored replacement and falls back to the shipped
default, and notices a new one by polling ``PRAGMA data_version`` (cheap: no query unless
another connection committed).

Everything from outside goes through :func:`parse_catalogue`, which raises only
:class:`~device.errors.ParseError` naming the service and the field.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from device.errors import ParseError
from device.fields import text_field
from device.store import Store

log = logging.getLogger("catalogue")

DEFAULT_PATH = Path(__file__).with_name("catalogue_default.toml")
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class Fee:
    item: str
    yuan: float
    basis: str

    @property
    def amount_text(self) -> str:
        if self.yuan == 0:
            return "免费"
        return f"{self.yuan:g} 元"


class PromiseUnit(StrEnum):
    """How a service's time limit counts: working days skip weekends and official
    holidays and count the make-up workdays (调休); calendar days count every day."""

    WORKING = "working"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class Promise:
    """The time limit a receipt promises (限时承诺)."""

    days: int
    unit: PromiseUnit

    @property
    def text(self) -> str:
        return f"{self.days}个工作日" if self.unit is PromiseUnit.WORKING else f"{self.days}日"


@dataclass(frozen=True)
class RefusalReason:
    """A reason a case of the service may be refused, with its legal basis."""

    reason: str
    basis: str


@dataclass(frozen=True)
class Referral:
    """Where a matter that belongs elsewhere is sent (首接负责)."""

    code: str
    unit: str
    address: str
    phone: str
    matters: str


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    category: str
    summary: str
    conditions: tuple[str, ...]
    materials: tuple[str, ...]
    process: tuple[str, ...]
    time_limit: str
    fees: tuple[Fee, ...]
    basis: tuple[str, ...]
    authority: str
    forms: tuple[str, ...]
    promise: Promise | None = None  # None: done on the spot, no receipt date to promise
    refusals: tuple[RefusalReason, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    version: str
    title: str
    consult_phone: str
    services: tuple[Service, ...]
    source: str = "default"  # "default" (shipped) or "hq" (site_content)
    referrals: tuple[Referral, ...] = ()

    def get(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def referral(self, code: str) -> Referral | None:
        return next((r for r in self.referrals if r.code == code), None)

    def name(self, code: str) -> str:
        s = self.get(code)
        return s.name if s else code

    def only(self, codes: tuple[str, ...]) -> tuple[Service, ...]:
        """The services of this window (all of them when the window lists none)."""
        if not codes:
            return self.services
        return tuple(s for s in self.services if s.code in codes)


# --------------------------------------------------------------------------- parsing


def _str(d: dict[str, Any], key: str, where: str, *, required: bool = True,
         limit: int = 2000) -> str:
    return text_field(d, key, required=required, limit=limit, where=f"catalogue {where}",
                      multiline=True)


def _strs(d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ParseError(f"catalogue {where}: field {key!r} must be a list of strings")
    return tuple(v)


def _fees(d: dict[str, Any], where: str) -> tuple[Fee, ...]:
    raw = d.get("fees", [])
    if not isinstance(raw, list):
        raise ParseError(f"catalogue {where}: 'fees' must be a list of tables")
    fees = []
    for i, f in enumerate(raw):
        w = f"{where} fees[{i}]"
        if not isinstance(f, dict):
            raise ParseError(f"catalogue {w}: must be a table with item, yuan, basis")
        yuan = f.get("yuan")
        if isinstance(yuan, bool) or not isinstance(yuan, int | float) or yuan < 0:
            raise ParseError(f"catalogue {w}: 'yuan' must be a number >= 0")
        fees.append(Fee(_str(f, "item", w, limit=200), float(yuan),
                        _str(f, "basis", w, limit=400)))
    return tuple(fees)


def _tables(d: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    raw = d.get(key, [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ParseError(f"catalogue {where}: {key!r} must be a list of tables")
    return [(f"{where} {key}[{i}]", t) for i, t in enumerate(raw)]


def _promise(d: dict[str, Any], where: str) -> Promise | None:
    raw = d.get("promise")
    if raw is None:
        return None
    w = f"catalogue {where} promise"
    if not isinstance(raw, dict):
        raise ParseError(f'{w}: must be a table like {{ days = 20, unit = "working" }}')
    days = raw.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise ParseError(f"{w}: 'days' must be a whole number from 1 to 366")
    try:
        unit = PromiseUnit(str(raw.get("unit")))
    except ValueError:
        raise ParseError(f"{w}: 'unit' must be \"working\" or \"calendar\"") from None
    return Promise(days, unit)


def _referrals(data: dict[str, Any]) -> tuple[Referral, ...]:
    out: list[Referral] = []
    for w, t in _tables(data, "referrals", "document"):
        code = _str(t, "code", w, limit=64)
        if not _CODE_RE.match(code):
            raise ParseError(f"catalogue {w}: code must look like 'exit_entry'")
        if any(r.code == code for r in out):
            raise ParseError(f"catalogue {w}: code {code!r} appears twice")
        out.append(Referral(code, _str(t, "unit", w, limit=60), _str(t, "address", w, limit=120),
                            _str(t, "phone", w, limit=30),
                            _str(t, "matters", w, required=False, limit=200)))
    return tuple(out)


def parse_catalogue(data: Any, *, source: str = "hq") -> Catalogue:
    """A catalogue from a decoded TOML/JSON document; :class:`ParseError` if malformed."""
    if not isinstance(data, dict):
        raise ParseError("catalogue: the document must be an object with version and services")
    version = _str(data, "version", "document", limit=64)
    if not version.strip():
        raise ParseError("catalogue document: 'version' must not be empty")
    raw = data.get("services")
    if not isinstance(raw, list) or not raw:
        raise ParseError("catalogue document: 'services' must be a non-empty list")
    services: list[Service] = []
    seen: set[str] = set()
    for i, s in enumerate(raw):
        if not isinstance(s, dict):
            raise ParseError(f"catalogue services[{i}]: must be a table")
        code = _str(s, "code", f"services[{i}]", limit=64)
        where = f"service {code!r}"
        if not _CODE_RE.match(code):
            raise ParseError(f"catalogue {where}: code must look like 'id_card.renew'")
        if code in seen:
            raise ParseError(f"catalogue {where}: code appears twice")
        seen.add(code)
        services.append(Service(
            code=code,
            name=_str(s, "name", where, limit=60),
            category=_str(s, "category", where, required=False, limit=60),
            summary=_str(s, "summary", where, required=False),
            conditions=_strs(s, "conditions", where),
            materials=_strs(s, "materials", where),
            process=_strs(s, "process", where),
            time_limit=_str(s, "time_limit", where, required=False),
            fees=_fees(s, where),
            basis=_strs(s, "basis", where),
            authority=_str(s, "authority", where, required=False),
            forms=_strs(s, "forms", where),
            promise=_promise(s, where),
            refusals=tuple(RefusalReason(_str(t, "reason", w, limit=200),
                                         _str(t, "basis", w, limit=400))
                           for w, t in _tables(s, "refusals", where)),
        ))
        if not services[-1].materials:
            raise ParseError(f"catalogue {where}: 'materials' must list at least one item")
    return Catalogue(
        version=version,
        title=_str(data, "title", "document", required=False, limit=60) or "办事指南",
        consult_phone=_str(data, "consult_phone", "document", required=False, limit=30),
        services=tuple(services),
        source=source,
        referrals=_referrals(data),
    )


def load_default(path: Path = DEFAULT_PATH) -> Catalogue:
    with path.open("rb") as fh:
        return parse_catalogue(tomllib.load(fh), source="default")


def parse_content_body(body: str) -> Catalogue:
    """A site_content body as the sync process stores it (JSON)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ParseError(f"catalogue: site content is not JSON: {exc}") from None
    return parse_catalogue(data, source="hq")


class CatalogueSource:
    """The catalogue in force: the stored HQ copy if valid, else the shipped default."""

    def __init__(self, store: Store | None, default: Catalogue | None = None) -> None:
        self.store = store
        self.default = default or load_default()
        self.problem = ""  # why a stored catalogue was rejected (for the technician)
        self._version = -1
        self._current = self.default

    def current(self) -> Catalogue:
        """Re-read only when another connection committed since the last call."""
        if self.store is None:
            return self.default
        dv = self.store.data_version()
        if dv != self._version:
            self._version = dv
            self._current = self._read()
        return self._current

    def reload(self) -> Catalogue:
        self._version = -1
        return self.current()

    def _read(self) -> Catalogue:
        assert self.store is not None
        stored = self.store.site_content("catalogue")
        if stored is None:
            self.problem = ""
            return self.default
        try:
            cat = parse_content_body(stored.body)
        except ParseError as exc:
            if self.problem != str(exc):
                log.error("stored catalogue %s rejected, using the shipped default: %s",
                          stored.version, exc)
            self.problem = str(exc)
            return self.default
        self.problem = ""
        return cat
