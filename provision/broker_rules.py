#!/usr/bin/env python3
"""Write the broker's per-device rules (Mosquitto dynamic-security file) from the fleet sheet.

    provision/broker_rules.py fleet.csv --out dynamic-security.json \\
        --hq kiosk-hq=secrets/hq.password [--merge /var/lib/mosquitto/dynamic-security.json]

Each counter is the broker user ``<site>.<device>`` (ids never contain a '.', so the name
is unambiguous and cannot be an HQ user). Its role lets it

- publish only ``kiosk/v1/<site>/<device>/{events,state,health,cmd/+/result,
  content/+/result}``,
- subscribe only to (exactly) its own ``cmd/+``, its own ``confirmed`` and its site's
  content topics (CONTENT_KINDS); every other filter, ``#``, an events topic or any
  ``$share/...`` gets SUBACK 135 (Mosquitto's acl_file checks subscriptions only at delivery, so a
  shared subscription there "succeeds" and silently takes a share of HQ's events: that
  is why the fleet uses dynamic security),
- on a station's site (docs/station.md: the sheet has a ``station-server`` row for it),
  as its second user ``<site>.<device>.station``
  (the station client of drivers/station/, client id the same, the row's password or a
  certificate with that CN): publish the station's requests
  ``kiosk/v1/<site>/station/req`` and subscribe only to its own ``station/resp/<device>``,
  the hall's ``station/board`` and the station's ``station/server``. The station server
  (the sheet's device ``station-server``, kiosk-station) instead subscribes to
  ``station/req`` and publishes every ``station/resp/+``, ``station/board`` and
  ``station/server``; it has no device topics of its own (the station's events go
  through kiosk-sync as device ``station``),
- log in only with the client id ``<site>.<device>``: a password client is bound to it
  here (``clientid``), a certificate client by ``use_username_as_clientid`` on the
  certificate listener (CN = ``<site>.<device>``). A certificate counter has no password,
  so it cannot log in on the password listener either.

HQ users (``--hq NAME=PASSWORD_FILE``) read every device topic, subscribe to the shared
group, write commands, confirmations and site content, and never write events. They
have no fixed client id (several collectors), and no counter can take theirs: every
counter's id is its own ``<site>.<device>``.

A station's bridge to HQ (``--bridge bridge-<site>=PASSWORD_FILE``, used in HQ's broker
rules; provision/station/station_broker.py writes the other end) publishes the site's
device topics for every device of the site and receives their commands, confirmations
and the site's content; never the station's request, response or board topics.

With ``--merge`` the clients and roles of an existing file are kept unless the sheet or
``--hq`` names them again (re-provisioning replaces a counter's entry). Stdlib only.

Exit codes: 0 ok, 2 bad sheet or arguments.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
HQ_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ITERATIONS = 101  # what mosquitto_ctrl writes; the passwords are random device secrets
DEVICE_LEAVES = ("events", "state", "health", "cmd/+/result", "content/+/result")
# sync/topics.py's CONTENT_KINDS, copied: this script runs on the broker host with the
# stdlib alone (tests/test_broker_rules.py fails when the two differ).
CONTENT_KINDS = ("catalogue", "roster", "appointments", "notices", "results", "holidays")
# The sheet's device id of a station's queue server (kiosk-station, docs/station.md).
STATION_SERVER = "station-server"


class SheetError(Exception):
    pass


def username(site: str, device: str) -> str:
    return f"{site}.{device}"


def _acl(acltype: str, topic: str) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _password(secret: str) -> dict[str, Any]:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, ITERATIONS)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt)
            .decode(), "iterations": ITERATIONS}


def device_role(prefix: str, site: str, device: str) -> dict[str, Any]:
    root = f"{prefix}/{site}/{device}"
    acls = [_acl("publishClientSend", f"{root}/{leaf}") for leaf in DEVICE_LEAVES]
    for topic in (f"{root}/cmd/+", f"{root}/confirmed"):
        acls += [_acl("subscribeLiteral", topic), _acl("publishClientReceive", topic)]
    return {"rolename": f"device:{username(site, device)}", "acls": acls}


def station_client_role(prefix: str, site: str, device: str) -> dict[str, Any]:
    """A window's, the entrance's or the hall's part of the station protocol."""
    root = f"{prefix}/{site}/station"
    acls = [_acl("publishClientSend", f"{root}/req")]
    for topic in (f"{root}/resp/{device}", f"{root}/board", f"{root}/server"):
        acls += [_acl("subscribeLiteral", topic), _acl("publishClientReceive", topic)]
    return {"rolename": f"station:{username(site, device)}", "acls": acls}


def station_server_role(prefix: str, site: str) -> dict[str, Any]:
    """kiosk-station: every request of the site in, every answer and the board out."""
    root = f"{prefix}/{site}/station"
    acls = [_acl("subscribeLiteral", f"{root}/req"), _acl("publishClientReceive", f"{root}/req")]
    acls += [_acl("publishClientSend", f"{root}/{leaf}") for leaf in ("resp/+", "board", "server")]
    return {"rolename": f"station-server:{site}", "acls": acls}


def bridge_role(prefix: str, site: str) -> dict[str, Any]:
    """A station broker's bridge at HQ: the site's device topics, as the devices would."""
    root = f"{prefix}/{site}/+"
    acls = [_acl("publishClientSend", f"{root}/{leaf}") for leaf in DEVICE_LEAVES]
    for topic in (f"{root}/cmd/+", f"{root}/confirmed",
                  *(f"{prefix}/{site}/{k}" for k in CONTENT_KINDS)):
        acls += [_acl("subscribePattern", topic), _acl("publishClientReceive", topic)]
    return {"rolename": f"bridge:{site}", "acls": acls}


def site_role(prefix: str, site: str) -> dict[str, Any]:
    acls = []
    for kind in CONTENT_KINDS:
        topic = f"{prefix}/{site}/{kind}"
        acls += [_acl("subscribeLiteral", topic), _acl("publishClientReceive", topic)]
    return {"rolename": f"site:{site}", "acls": acls}


def hq_role(prefix: str, share: str) -> dict[str, Any]:
    acls = [_acl("subscribePattern", f"$share/{share}/{prefix}/#"),
            _acl("subscribePattern", f"{prefix}/#"),
            _acl("publishClientReceive", f"{prefix}/#")]
    for topic in ("+/+/cmd/+", "+/+/confirmed", *(f"+/{k}" for k in CONTENT_KINDS)):
        acls.append(_acl("publishClientSend", f"{prefix}/{topic}"))
    return {"rolename": "kiosk-hq", "acls": acls}


def admin_role() -> dict[str, Any]:
    """mosquitto_ctrl's rights: manage dynamic security (revoking a counter kicks it)."""
    topic = "$CONTROL/dynamic-security/#"
    return {"rolename": "broker-admin", "acls": [
        _acl("publishClientSend", topic), _acl("publishClientReceive", topic),
        _acl("subscribePattern", topic)]}


def _secret(base: Path, name: str, what: str) -> str:
    try:
        text = (base / name).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SheetError(f"{what} {name!r}: {exc.strerror}: put the file next to the sheet "
                         "or give its path") from None
    if not text:
        raise SheetError(f"{what} {name!r} is empty: write the password into it")
    return text


def device_client(row: dict[str, str], base: Path) -> tuple[dict[str, Any], str, str]:
    site, device = (row.get("site") or "").strip(), (row.get("device") or "").strip()
    for key, value in (("site", site), ("device", device)):
        if not ID_RE.match(value):
            raise SheetError(f"{key} {value!r} is not a valid id: use 1-64 lower-case "
                             "letters, digits, '-' or '_'")
    user = username(site, device)
    given = (row.get("mqtt_username") or "").strip()
    if given and given != user:
        raise SheetError(f"mqtt_username {given!r}: a counter's broker user is "
                         f"'<site>.<device>' = {user!r}; leave the column empty or write that")
    if device == STATION_SERVER:
        roles = [{"rolename": f"station-server:{site}", "priority": 0}]
    else:
        roles = [{"rolename": f"device:{user}", "priority": 0},
                 {"rolename": f"site:{site}", "priority": 0}]
    client: dict[str, Any] = {"username": user, "textname": f"counter {site}/{device}",
                              "roles": roles}
    pw_file = (row.get("mqtt_password_file") or "").strip()
    if pw_file:
        client.update(_password(_secret(base, pw_file, "mqtt_password_file")))
        client["clientid"] = user
    else:
        cert = (row.get("client_cert_file") or "").strip()
        if not cert:
            raise SheetError("no credentials: give client_cert_file (CN = "
                             f"{user!r}) or mqtt_password_file")
        cn = certificate_cn(base / cert)
        if cn is not None and cn != user:
            raise SheetError(f"client_cert_file {cert!r} is issued to CN={cn!r}: the broker "
                             f"takes the CN as the counter's user, which must be {user!r}; "
                             "issue the certificate with that CN")
    return client, site, device


def station_user(client: dict[str, Any], site: str, device: str) -> dict[str, Any]:
    """The device's station client (drivers/station/ connects beside kiosk-sync, so it
    needs a client id of its own): ``<site>.<device>.station``, the same credentials."""
    name = f"{username(site, device)}.station"
    out: dict[str, Any] = {"username": name, "textname": f"station client {site}/{device}",
                           "roles": [{"rolename": f"station:{username(site, device)}",
                                      "priority": 0}]}
    if "password" in client:
        out.update({k: client[k] for k in ("password", "salt", "iterations")})
        out["clientid"] = name
    return out


def certificate_cn(path: Path) -> str | None:
    """The CN of a PEM certificate (openssl CLI); None when the file or openssl is absent
    (the sheet may be prepared before the certificates are issued)."""
    tool = shutil.which("openssl")
    if tool is None or not path.is_file():
        return None
    out = subprocess.run([tool, "x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in",
                          str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SheetError(f"{path.name}: not a PEM certificate ({out.stderr.strip()[:200]})")
    m = re.search(r"(?:^|,)CN=([^,]+)", out.stdout.strip().removeprefix("subject="))
    return m.group(1) if m else ""


def build(rows: list[tuple[int, dict[str, str]]], base: Path, hq: list[tuple[str, str]],
          *, prefix: str, share: str, merge: dict[str, Any] | None = None,
          admins: list[tuple[str, str]] | None = None,
          bridges: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    clients: dict[str, dict[str, Any]] = {}
    roles: dict[str, dict[str, Any]] = {}
    if merge:
        clients = {c["username"]: c for c in merge.get("clients", [])}
        roles = {r["rolename"]: r for r in merge.get("roles", [])}
    seen: set[str] = set()
    # A site has a station (docs/station.md) when the sheet lists its station server.
    stations = {(row.get("site") or "").strip() for _, row in rows
                if (row.get("device") or "").strip() == STATION_SERVER}
    for line_no, row in rows:
        try:
            client, site, device = device_client(row, base)
        except SheetError as exc:
            raise SheetError(f"line {line_no}: {exc}") from None
        if client["username"] in seen:
            raise SheetError(f"line {line_no}: {site}/{device} appears twice")
        seen.add(client["username"])
        clients[client["username"]] = client
        if device == STATION_SERVER:
            role = station_server_role(prefix, site)
            roles[role["rolename"]] = role
            continue
        for role in (device_role(prefix, site, device), site_role(prefix, site)):
            roles[role["rolename"]] = role
        if site in stations:
            role = station_client_role(prefix, site, device)
            roles[role["rolename"]] = role
            station_client = station_user(client, site, device)
            clients[station_client["username"]] = station_client
    role = hq_role(prefix, share)
    roles[role["rolename"]] = role
    for name, secret in hq:
        clients[name] = {"username": name, "textname": "HQ collector / tools",
                         "roles": [{"rolename": "kiosk-hq", "priority": 0}],
                         **_password(secret)}
    for name, secret in bridges or []:
        site = name.removeprefix("bridge-")
        if not name.startswith("bridge-") or not ID_RE.match(site):
            raise SheetError(f"--bridge {name!r}: name a bridge 'bridge-<site>'")
        role = bridge_role(prefix, site)
        roles[role["rolename"]] = role
        # Bound to its client id like a counter: nobody else takes its session at HQ.
        clients[name] = {"username": name, "clientid": name,
                         "textname": f"station bridge of {site}",
                         "roles": [{"rolename": role["rolename"], "priority": 0}],
                         **_password(secret)}
    if admins:
        roles["broker-admin"] = admin_role()
    for name, secret in admins or []:
        clients[name] = {"username": name, "textname": "broker administrator",
                         "roles": [{"rolename": "broker-admin", "priority": 0}],
                         **_password(secret)}
    return {
        # Nothing is allowed unless a role says so; unsubscribing is always fine.
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": sorted(clients.values(), key=lambda c: c["username"]),
        "groups": merge.get("groups", []) if merge else [],
        "roles": sorted(roles.values(), key=lambda r: r["rolename"]),
    }


def _users(items: list[str], option: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not HQ_RE.match(name):
            raise SheetError(f"{option} {item!r}: write NAME=PASSWORD_FILE with NAME like "
                             "kiosk-hq (no '.', which marks a counter)")
        out.append((name, _secret(Path.cwd(), path, f"{option} {name}")))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("sheet", type=Path, help="fleet CSV (see provision/fleet.example.csv)")
    p.add_argument("--out", type=Path, required=True, help="dynamic-security.json to write")
    p.add_argument("--hq", action="append", default=[], metavar="NAME=PASSWORD_FILE",
                   help="an HQ broker user (collector or tool); repeat for several")
    p.add_argument("--admin", action="append", default=[], metavar="NAME=PASSWORD_FILE",
                   help="a broker administrator for mosquitto_ctrl (revocation)")
    p.add_argument("--bridge", action="append", default=[], metavar="bridge-SITE=PASSWORD_FILE",
                   help="a station broker's bridge to this (HQ's) broker; repeat per site")
    p.add_argument("--merge", type=Path, help="existing dynamic-security.json to keep")
    p.add_argument("--prefix", default="kiosk/v1", help="mqtt.topic_prefix")
    p.add_argument("--share", default="hq", help="HQ's shared-subscription group")
    args = p.parse_args(argv)
    base = args.sheet.resolve().parent
    try:
        hq = _users(args.hq, "--hq")
        admins = _users(args.admin, "--admin")
        bridges = _users(args.bridge, "--bridge")
        merge = None
        if args.merge and args.merge.exists():
            try:
                merge = json.loads(args.merge.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SheetError(f"--merge {args.merge}: cannot read it ({exc})") from None
        with args.sheet.open(newline="", encoding="utf-8-sig") as f:
            rows = list(enumerate(csv.DictReader(f), start=2))
        doc = build(rows, base, hq, prefix=args.prefix, share=args.share, merge=merge,
                    admins=admins, bridges=bridges)
    except (SheetError, OSError) as exc:
        print(f"broker_rules: {args.sheet}: {exc}", file=sys.stderr)
        return 2
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.chmod(0o600)  # password hashes
    tmp.replace(args.out)
    print(f"{args.out}: {len(doc['clients'])} clients, {len(doc['roles'])} roles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
