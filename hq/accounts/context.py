"""The console's navigation, for every page's header (only what the user may open)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def nav(request: HttpRequest) -> dict[str, Any]:
    from hq.accounts.scope import nav_items

    return {"nav_items": nav_items(request)}
