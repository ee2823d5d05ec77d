"""The live wall's page and its data endpoint. Thin: the tiles come from hq.wall.state,
who sees which station from hq.accounts.scope."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from hq.accounts.scope import Role, console_view, visible_sites
from hq.wall.state import Entry, Wall, wall_for

WALL_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CHIEF)


def _filters(request: HttpRequest, wall: Wall) -> tuple[dict[str, str], list[dict[str, Any]],
                                                        set[str] | None]:
    """The district and station asked for, the stations the user may pick, and the sites
    shown (None: every site)."""
    from hq.fleet.models import Station

    district = request.GET.get("district", "").strip()
    station = request.GET.get("station", "").strip()
    sites = visible_sites(request.user)
    stations = [s for s in Station.objects.using(wall.alias).all()
                if sites is None or s.site in sites]
    shown: set[str] | None = None if sites is None else set(sites)
    if district:
        in_district = {s.site for s in stations if s.district == district}
        shown = in_district if shown is None else shown & in_district
    if station:
        shown = {station} if shown is None else shown & {station}
    picks = [{"site": s.site, "name": s.name, "district": s.district} for s in stations]
    return {"district": district, "station": station}, picks, shown


def _visible(entries: list[Entry], shown: set[str] | None) -> list[Entry]:
    return [e for e in entries if shown is None or e.tile.site in shown]


@console_view(*WALL_ROLES)
def index(request: HttpRequest) -> HttpResponse:
    wall = wall_for()
    wall.refresh()
    chosen, picks, shown = _filters(request, wall)
    entries = _visible(list(wall.entries.values()), shown)
    groups: dict[str, list[Entry]] = {}
    for e in sorted(entries, key=lambda e: (e.tile.window, e.tile.device)):
        groups.setdefault(e.tile.site, []).append(e)
    district_of = {p["site"]: p["district"] for p in picks}
    alerts = _open_alerts(wall.alias, set(groups))
    stations = [{"site": site, "name": wall.names.station(site),
                 "district": district_of.get(site, ""), "tiles": tiles,
                 "alerts": alerts.get(site, 0)}
                for site, tiles in sorted(groups.items(), key=lambda kv: (
                    district_of.get(kv[0], "\uffff"), wall.names.station(kv[0])))]
    return render(request, "wall/index.html", {
        "stations": stations, "picks": picks, "chosen": chosen,
        "districts": sorted({p["district"] for p in picks if p["district"]}),
        "cursor": wall.cursor(), "windows": len(entries)})


def _open_alerts(alias: str, sites: set[str]) -> dict[str, int]:
    """Each shown station's open alerts (hq.alerts), as the page loads: the badge leads to
    them; the tiles update live, the count with the next load."""
    from django.db.models import Count

    from hq.alerts.models import Alert, State

    rows = (Alert.objects.using(alias).filter(site__in=sorted(sites), state=State.OPEN.value)
            .values("site").annotate(n=Count("id")))
    return {str(r["site"]): int(r["n"]) for r in rows}


@console_view(*WALL_ROLES)
def data(request: HttpRequest) -> JsonResponse:
    """Tiles changed after ``since`` (the cursor the last answer gave), scoped and filtered
    like the page."""
    wall = wall_for()
    wall.refresh()
    _chosen, _picks, shown = _filters(request, wall)
    full, entries = wall.after(request.GET.get("since", ""))
    return JsonResponse({
        "cursor": wall.cursor(), "full": full,
        "tiles": [{"key": e.tile.key, "site": e.tile.site,
                   "station": wall.names.station(e.tile.site), "html": e.html}
                  for e in _visible(entries, shown)]})
