#!/usr/bin/env python3
"""Write the units' IPAddressAllow= drop-in: the broker (and, for kiosk-hq, the database)
and the DNS servers that resolve their names; the units themselves say IPAddressDeny=any.

    systemd/ip_allow.py pi [--root /] [--config /etc/counter-kiosk/config.toml]
    systemd/ip_allow.py hq [--root /] [--env /etc/counter-kiosk/hq.env]

systemd takes addresses only, so names are resolved now (getaddrinfo): run it again
after changing mqtt.host / KIOSK_HQ_BROKER / KIOSK_HQ_DB or when the broker moves
(systemd/install.sh and first boot run it; `systemctl daemon-reload` and a restart of
the unit make it count). Stdlib only.

Exit codes: 0 written, 2 nothing to allow yet or a name that does not resolve.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

# The units of a role that reach the network: the console needs the same addresses as the
# collector (the database, and the broker it publishes site content to).
UNITS = {"pi": ("kiosk-sync.service",), "hq": ("kiosk-hq.service", "kiosk-hq-console.service")}


class AllowError(Exception):
    pass


def resolve(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise AllowError(f"{host!r} does not resolve ({exc}); fix the name or DNS, then run "
                         "this again") from None
    return sorted({str(info[4][0]) for info in infos})


def nameservers(resolv_conf: Path) -> list[str]:
    """DNS servers outside loopback (localhost is always allowed: systemd-resolved)."""
    out = []
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                addr = ipaddress.ip_address(parts[1].split("%")[0])
            except ValueError:
                continue
            if not addr.is_loopback:
                out.append(str(addr))
    return out


def hosts_pi(config: Path) -> list[str]:
    try:
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AllowError(f"{config}: cannot read it ({exc})") from None
    host = str(doc.get("mqtt", {}).get("host", "")).strip()
    if not host:
        raise AllowError(f"{config}: mqtt.host is empty; set the broker, then run this again")
    return [host]


def hosts_hq(env: Path) -> list[str]:
    values: dict[str, str] = {}
    try:
        for line in env.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip('"')
    except OSError as exc:
        raise AllowError(f"{env}: cannot read it ({exc.strerror})") from None
    hosts = [values.get("KIOSK_HQ_BROKER", "").strip() or "127.0.0.1"]
    db = values.get("KIOSK_HQ_DB", "")
    if db.startswith(("postgresql://", "postgres://")):
        host = urlsplit(db).hostname
        if host and not host.startswith("/"):
            hosts.append(host)
    return hosts


def render(unit: str, addresses: list[str]) -> str:
    return (f"# Written by systemd/ip_allow.py for {unit}: the only addresses it may reach\n"
            "# (the unit says IPAddressDeny=any). Run it again when they change.\n"
            f"[Service]\nIPAddressAllow={' '.join(addresses)}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("role", choices=sorted(UNITS))
    p.add_argument("--root", type=Path, default=Path("/"))
    p.add_argument("--config", default="/etc/counter-kiosk/config.toml")
    p.add_argument("--env", default="/etc/counter-kiosk/hq.env")
    p.add_argument("--resolv-conf", default="/etc/resolv.conf")
    args = p.parse_args(argv)
    root = args.root

    def inside(path: str) -> Path:
        return root / path.lstrip("/")

    try:
        hosts = (hosts_pi(inside(args.config)) if args.role == "pi"
                 else hosts_hq(inside(args.env)))
        addresses: list[str] = []
        for host in hosts:
            addresses += [a for a in resolve(host) if a not in addresses]
    except AllowError as exc:
        print(f"ip_allow: {exc}", file=sys.stderr)
        return 2
    addresses += [a for a in nameservers(inside(args.resolv_conf)) if a not in addresses]
    for unit in UNITS[args.role]:
        dropin = inside(f"/etc/systemd/system/{unit}.d/ip-allow.conf")
        dropin.parent.mkdir(parents=True, exist_ok=True)
        text = render(unit, addresses)
        if not dropin.exists() or dropin.read_text(encoding="utf-8") != text:
            dropin.write_text(text, encoding="utf-8")
        print(f"{dropin}: IPAddressAllow={' '.join(addresses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
