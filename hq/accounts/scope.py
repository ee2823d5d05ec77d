"""Who may see what: the one place the console checks roles and stations.

A role is a Django group (made by this app's migrations). The city roles (admin,
supervisor, editor) see every station; a chief sees only the site of their Membership.
Every list, detail, export and data endpoint filters through :func:`scoped` or
:func:`site_or_404`, and every view is wrapped in :func:`console_view`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from hq.accounts.roles import CITY_ROLES, Role

__all__ = ["CITY_ROLES", "Role", "console_view", "may_see_site", "nav_items", "role_of",
           "scoped", "site_or_404", "visible_sites"]


def role_of(user: Any) -> Role | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    names = {g.name for g in user.groups.all()}
    for role in Role:  # one role per user; the first in this order if several
        if role.value in names:
            return role
    return None


def visible_sites(user: Any) -> frozenset[str] | None:
    """None: every site. A chief: their one site. Anyone else: none."""
    role = role_of(user)
    if role in CITY_ROLES:
        return None
    if role is Role.CHIEF:
        membership = getattr(user, "membership", None)
        return frozenset({membership.site}) if membership is not None else frozenset()
    return frozenset()


def may_see_site(user: Any, site: str) -> bool:
    sites = visible_sites(user)
    return sites is None or site in sites


M = TypeVar("M", bound=Any)


def scoped(queryset: QuerySet[M], user: Any, field: str = "site") -> QuerySet[M]:
    sites = visible_sites(user)
    if sites is None:
        return queryset
    return queryset.filter(**{f"{field}__in": sorted(sites)})


def site_or_404(user: Any, site: str) -> None:
    """A site the user may not see does not exist for them (no hint that it does)."""
    if not may_see_site(user, site):
        raise Http404("没有这个页面")


View = Callable[..., HttpResponse]


def console_view(*roles: Role) -> Callable[[View], View]:
    """Login required, and one of ``roles`` (none given: any console role)."""
    allowed = frozenset(roles) or frozenset(Role)

    def wrap(view: View) -> View:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            role = role_of(request.user)
            if role is None or role not in allowed:
                return render(request, "403.html", {"needed": sorted(r.label for r in allowed)},
                              status=403)
            return view(request, *args, **kwargs)
        return inner
    return wrap


# The header's links: (url name, label, roles that see it).
NAV = [
    ("home", "首页", frozenset(Role)),
    ("wall:index", "实时大屏", frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CHIEF})),
    ("workorders:list", "差评工单", frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CHIEF})),
    ("alerts:list", "站点告警", frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CHIEF})),
    ("reports:index", "评价报表", frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CHIEF})),
    ("publish:index", "内容发布", frozenset({Role.ADMIN, Role.EDITOR})),
    ("public:index", "公开结果", frozenset(Role)),
    ("admin:index", "管理后台", frozenset({Role.ADMIN, Role.EDITOR})),
]


def nav_items(request: HttpRequest) -> list[dict[str, Any]]:
    role = role_of(request.user)
    if role is None:
        return []
    out = []
    for name, label, roles in NAV:
        if role not in roles:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:  # an app whose pages are not built yet
            continue
        out.append({"name": name, "url": url, "label": label,
                    "current": request.path == url or (url != "/" and
                                                       request.path.startswith(url))})
    return out
