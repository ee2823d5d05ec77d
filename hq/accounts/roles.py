"""The console's roles (Django groups of the same names). No Django here: the command
line checks a role before Django is set up."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CHIEF = "chief"
    EDITOR = "editor"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {Role.ADMIN: "系统管理员", Role.SUPERVISOR: "市局督察", Role.CHIEF: "所长",
          Role.EDITOR: "内容编辑"}
CITY_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.EDITOR})
