"""The role groups and their permissions, kept in step after every migrate (a new model
of an app gets its permissions into the right groups without a hand-written migration)."""

from __future__ import annotations

from typing import Any

from hq.accounts.roles import Role

# Which apps' models each role may change in the admin (view is implied by change).
EDITS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: ("fleet", "publish", "holidays", "workorders", "alerts", "accounts", "auth"),
    Role.EDITOR: ("fleet", "publish", "holidays"),
    Role.SUPERVISOR: ("workorders",),
    Role.CHIEF: (),
}
# Content the editor maintains; the counters' own records (events, devices) stay read-only.
READ_ONLY_MODELS = frozenset({"event", "device", "problem", "quarantine"})


def ensure_groups(using: str = "default", **_kw: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    for role, apps in EDITS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role.value)
        perms = Permission.objects.using(using).filter(content_type__app_label__in=apps)
        if role is not Role.ADMIN:
            perms = perms.exclude(content_type__model__in=READ_ONLY_MODELS,
                                  codename__regex=r"^(add|change|delete)_")
        group.permissions.set(list(perms))
