"""Who may see what: the one place the console checks roles and stations."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def nav_items(request: HttpRequest) -> list[dict[str, Any]]:
    return []
