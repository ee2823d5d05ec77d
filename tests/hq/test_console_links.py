"""No dead ends: from the landing page, every link a role is shown opens a page that
answers 200 and carries the header's navigation back (walked in chromium, per role)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.hq.console import Console, login

# Pages that are not pages: files, the admin's own forms, leaving.
SKIP = ("/accounts/logout/", "/static/", "/admin/", "/healthz")
EXPORT_HINTS = ("export", ".csv", ".xlsx", "format=")


def walk(page: Any, console: Console, limit: int = 60) -> dict[str, int]:
    seen: dict[str, int] = {}
    todo = [console.url + "/"]
    while todo and len(seen) < limit:
        url = todo.pop(0)
        if url in seen:
            continue
        reply = page.goto(url)
        seen[url] = reply.status if reply is not None else 0
        if seen[url] != 200:
            continue
        assert page.locator("header.top nav a").count() >= 1, f"{url}: no way back"
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            href = urldefrag(href)[0]
            path = urlsplit(href).path
            if (href.startswith(console.url) and not path.startswith(SKIP)
                    and not any(h in href for h in EXPORT_HINTS) and href not in seen):
                todo.append(href)
    return seen


@pytest.mark.parametrize(("role", "station"), [("supervisor", None), ("chief", "s1"),
                                               ("editor", None), ("admin", None)])
def test_every_link_of_every_role_leads_somewhere(console: Console, browser_page: Any,
                                                  role: str, station: str | None) -> None:
    name = f"walk-{role}"
    login(browser_page, console, name, console.add_user(name, role, station=station))
    seen = walk(browser_page, console)
    broken = {u: s for u, s in seen.items() if s != 200}
    assert not broken, broken
    assert len(seen) >= 1
