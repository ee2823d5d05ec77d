"""HQ's published month of evaluation results (site content kind ``results``), as the home
screen shows it: "本所11月公布：好评率 98.5%（群众评价 1,234 件）".

kiosk-sync validates the document against sync/schema.py and then with
:func:`parse_results` (the reader is the last word, as for the catalogue), and stores it
in ``site_content``. :class:`ResultsBoard` reads it again only when another connection
committed (``PRAGMA data_version``); a stored document that does not parse is logged and
nothing is shown: a wrong figure on the screen is worse than none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device.errors import ParseError
from device.fields import int_field, number_field, text_field
from device.store import Store
from device.store_content import json_document

log = logging.getLogger("results")

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class MonthFigure:
    """The station's figure for one published month."""

    version: str
    month: str  # 2026-11
    station: str
    rated: int
    good_rate: float | None  # per cent; None when nobody rated

    @property
    def line(self) -> str:
        """The home screen's line, in the words of the monthly notice (好评率, 件)."""
        m = int(self.month[5:])
        if self.good_rate is None or not self.rated:
            return f"本所{m}月公布：暂无群众评价"
        return f"本所{m}月公布：好评率 {self.good_rate:.1f}%（群众评价 {self.rated:,} 件）"


def parse_results(doc: Mapping[str, Any]) -> MonthFigure:
    """The figure of a ``results`` document; ParseError naming the field otherwise."""
    where = "results"
    month = text_field(doc, "month", limit=7, where=where)
    if not _MONTH.fullmatch(month):
        raise ParseError(f"results: 'month' {month!r} is not a month like 2026-11")
    station = doc.get("station")
    if not isinstance(station, Mapping):
        raise ParseError("results: 'station' must be an object with name and rated")
    at = "results station"
    rated = int_field(station, "rated", hi=100_000_000, where=at)
    rate = (number_field(station, "good_rate", hi=100.0, where=at)
            if station.get("good_rate") is not None else None)
    return MonthFigure(version=text_field(doc, "version", limit=64, where=where), month=month,
                       station=text_field(station, "name", limit=60, where=at, nonempty=True),
                       rated=rated, good_rate=rate)


def read_results(body: str) -> MonthFigure:
    """:func:`parse_results` of a stored JSON text."""
    return parse_results(json_document(body, "results"))


class ResultsBoard:
    """The figure to show now, or None (HQ published none, or it does not parse)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.problem = ""
        self._version = -1
        self._figure: MonthFigure | None = None

    def current(self) -> MonthFigure | None:
        if self.store is None:
            return None
        dv = self.store.data_version()
        if dv != self._version:  # another connection committed: maybe new results
            self._version = dv
            self._figure = self._read()
        return self._figure

    def _read(self) -> MonthFigure | None:
        assert self.store is not None
        stored = self.store.site_content("results")
        if stored is None:
            return None
        try:
            figure = read_results(stored.body)
        except ParseError as exc:
            if self.problem != str(exc):
                log.error("stored results %s rejected, none shown: %s", stored.version, exc)
            self.problem = str(exc)
            return None
        self.problem = ""
        return figure
