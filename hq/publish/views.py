"""/content/: per station and kind, the latest published version and what each counter
applied; a publish button per kind (editors and admins)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render

from device.errors import ParseError, SyncError
from hq.accounts.scope import Role, console_view, scoped, site_or_404
from hq.broker_env import broker_options
from hq.fleet.models import Station
from hq.names import Names
from hq.publish.documents import publish as publish_document
from hq.publish.models import ContentResult, ContentVersion, Kind


@console_view()
def index(request: HttpRequest) -> HttpResponse:
    names = Names.load()
    latest: dict[tuple[str, str], ContentVersion] = {}
    for v in scoped(ContentVersion.objects.order_by("published_at"), request.user):
        latest[(v.site, v.kind)] = v
    counters: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in scoped(ContentResult.objects.order_by("device"), request.user):
        counters.setdefault((r.site, r.kind), []).append({
            "window": names.window(r.site, r.device), "applied": r.applied_version or "—",
            "error": "" if r.ok else r.error})
    stations = []
    for st in scoped(Station.objects.all(), request.user):
        stations.append({"site": st.site, "name": st.name, "kinds": [
            {"kind": k.value, "label": k.label, "latest": latest.get((st.site, k.value)),
             "counters": counters.get((st.site, k.value), [])} for k in Kind]})
    return render(request, "publish/index.html", {"stations": stations})


@console_view(Role.ADMIN, Role.EDITOR)
def publish(request: HttpRequest, site: str, kind: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    site_or_404(request.user, site)
    try:
        k = Kind(kind)
    except ValueError:
        messages.error(request, f"没有“{kind}”这种内容，请从本页的按钮发布。")
        return redirect("publish:index")
    try:
        done = publish_document(k, site, request.user.get_username(),
                                broker_options("kiosk-hq-console"), "default")
    except (ParseError, SyncError) as exc:
        messages.error(request, f"{Names.load().station(site)} 的{k.label}未发布：{exc}")
    else:
        messages.success(request, f"{Names.load().station(site)} 的{k.label}已发布，版本 "
                         f"{done.version.version}。")
    return redirect("publish:index")
