"""Names for ids, for every page and export: 城关派出所, 1号窗口, 李明 000001,
首次申领居民身份证. An id nobody has named yet is shown with a mark that says so, never
bare, so a supervisor sees what to enter in the admin."""

from __future__ import annotations

from dataclasses import dataclass, field

UNNAMED = "（未命名）"


@dataclass
class Names:
    stations: dict[str, str] = field(default_factory=dict)
    windows: dict[tuple[str, str], str] = field(default_factory=dict)
    officers: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, using: str = "default") -> Names:
        """Every name in four queries (a page or an export loads them once)."""
        from hq.fleet.models import Officer, Service, Station, Window

        return cls(
            stations={s.site: s.name for s in Station.objects.using(using)},
            windows={(w.site, w.device): w.name for w in Window.objects.using(using)},
            officers={o.badge: o.name for o in Officer.objects.using(using)},
            services={s.code: s.name for s in Service.objects.using(using)},
        )

    def station(self, site: str) -> str:
        return self.stations.get(site) or f"{site}{UNNAMED}"

    def window(self, site: str, device: str) -> str:
        return self.windows.get((site, device)) or f"{device}{UNNAMED}"

    def officer(self, badge: str) -> str:
        if not badge:
            return "—"
        name = self.officers.get(badge)
        return f"{name} {badge}" if name else f"{badge}{UNNAMED}"

    def service(self, code: str) -> str:
        if not code:
            return "—"
        return self.services.get(code) or f"{code}{UNNAMED}"
