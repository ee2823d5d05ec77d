"""Creating console users (``kiosk-hq user add``): one role each, a chief with a station."""

from __future__ import annotations

import re
from typing import Any

from device.errors import ParseError
from hq.accounts.roles import Role
from sync.schema import ID_PATTERN


def add_user(using: str, name: str, role: Role | str, password: str,
             station: str | None = None) -> Any:
    """Create ``name`` with ``role``; ParseError (naming the fix) for what cannot be."""
    from django.contrib.auth.models import Group, User
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from hq.accounts.groups import ensure_groups
    from hq.accounts.models import Membership

    try:
        role = Role(role)
    except ValueError:
        raise ParseError(f"unknown role {role!r}: use one of "
                         + ", ".join(r.value for r in Role)) from None
    if not re.fullmatch(r"[\w.@+-]{1,150}", name):
        raise ParseError(f"user name {name!r} is not allowed: use 1-150 letters, digits or "
                         ". @ + - _")
    if role is Role.CHIEF and not station:
        raise ParseError("a chief needs --station SITE: the station they answer for")
    if role is not Role.CHIEF and station:
        raise ParseError(f"--station is for chiefs; a {role.value} sees every station")
    if station and not re.fullmatch(ID_PATTERN, station):
        raise ParseError(f"--station {station!r} is not a site id: use the counters' site "
                         "id, e.g. demo-site")
    if User.objects.db_manager(using).filter(username=name).exists():
        raise ParseError(f"user {name!r} exists already. Fix: choose another name, or "
                         "change this one's password in the admin")
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ParseError("the password is refused: " + " ".join(exc.messages)) from None
    with transaction.atomic(using=using):
        ensure_groups(using)
        user = User.objects.db_manager(using).create_user(
            name, password=password, is_staff=role in (Role.ADMIN, Role.EDITOR),
            is_superuser=role is Role.ADMIN)
        user.groups.add(Group.objects.using(using).get(name=role.value))
        if station:
            Membership.objects.using(using).create(user=user, site=station)
    return user


def first_admin_hint(using: str, db: str) -> str | None:
    """What the first start prints while nobody can log in."""
    from django.contrib.auth.models import User

    if User.objects.using(using).exists():
        return None
    return ("no console user yet. Create the first admin:\n"
            f"  kiosk-hq user add admin --role admin --db {db} --password-file FILE\n"
            "(FILE holds the password on its first line; keep it 0600, then delete it)")
