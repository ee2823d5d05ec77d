#!/usr/bin/env python3
"""Write the station-local Mosquitto's configuration, with its bridge to HQ's broker.

    provision/station/station_broker.py --site s1 --listen 192.168.50.10 \\
        --hq-host mqtt.hq.example --hq-port 8884 --hq-ca /etc/mosquitto/ca/hq-ca.crt \\
        --bridge-user bridge-s1 --bridge-password-file secrets/bridge-s1.password \\
        --out /etc/mosquitto/conf.d/station.conf

The station's windows, entrance, hall display, kiosk-station and the station's own
kiosk-sync all talk to this broker (docs/station.md). Its bridge carries, for this site
only, the device topics HQ needs: events, state, health and the content and command
results **out**; the site's content, each device's ``confirmed`` and ``cmd/+`` **in**.
The station's request, response and board topics (``station/req``, ``station/resp/+``,
``station/board``) match none of those patterns: they never leave the station. The
bridge logs in at HQ as its own user (``provision/broker_rules.py --bridge``), which may
publish only this site's device topics. Stdlib only: it runs on the station's server.

Exit codes: 0 ok, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Also in sync/topics.py and provision/broker_rules.py (a test keeps them in step).
CONTENT_KINDS = ("catalogue", "roster", "appointments", "notices", "results", "holidays")
# (pattern under kiosk/v1/<site>/, direction, QoS): the device topics HQ exchanges.
BRIDGED = (
    ("+/events", "out", 1), ("+/state", "out", 1), ("+/health", "out", 0),
    ("+/content/+/result", "out", 1), ("+/cmd/+/result", "out", 1),
    ("+/confirmed", "in", 1), ("+/cmd/+", "in", 1),
    *((kind, "in", 1) for kind in CONTENT_KINDS),
)
DYNSEC = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def bridge(site: str, *, host: str, port: int, user: str, password: str, ca_file: str,
           prefix: str = "kiosk/v1") -> str:
    """The ``connection`` section: the site's device topics to and from HQ."""
    lines = [
        "# --- the bridge to HQ: this site's device topics only (never station/req, resp,",
        "# board). HQ's broker knows the bridge as its own user (broker_rules.py --bridge).",
        f"connection hq-{site}",
        f"address {host}:{port}",
        "bridge_protocol_version mqttv50",
        f"remote_clientid {user}",
        f"remote_username {user}",
        "# From --bridge-password-file: keep this file root:mosquitto, mode 0640.",
        f"remote_password {password}",
        # A session at HQ that outlives a short outage: what was queued comes through.
        "cleansession false",
        "bridge_attempt_unsubscribe false",
        # Its connection notices would go to HQ under $SYS, which HQ's rules refuse.
        "notifications false",
        "try_private false",
        "restart_timeout 2 60",
    ]
    if ca_file:
        lines += [f"bridge_cafile {ca_file}", "bridge_insecure false"]
    for pattern, direction, qos in BRIDGED:
        lines.append(f"topic {prefix}/{site}/{pattern} {direction} {qos}")
    return "\n".join(lines) + "\n"


def render(site: str, *, listen: str, port: int, dynsec_file: str, host: str,
           hq_port: int, user: str, password: str, ca_file: str,
           prefix: str = "kiosk/v1") -> str:
    head = f"""\
# Mosquitto 2.x on the station's server for site {site} (written by
# provision/station/station_broker.py; docs/station.md). The windows, the entrance, the
# hall display, kiosk-station and the station's kiosk-sync connect here; dynamic security
# (provision/broker_rules.py on this site's rows) gives each its own topics.
per_listener_settings false
allow_anonymous false
plugin {DYNSEC}
plugin_opt_config_file {dynsec_file}
# Requests queued for kiosk-station while it restarts, and its session, survive a broker
# restart (saved on SIGTERM and every autosave_interval seconds).
persistence true
persistence_location /var/lib/mosquitto/
autosave_interval 30
max_inflight_messages 100
max_queued_messages 100000
message_size_limit 1048576
# Requests and answers are a few hundred bytes: without this, Nagle's algorithm held each
# until the delayed ACK, ~40 ms a hop (bench/station_queue.py).
set_tcp_nodelay true
# The station LAN only: one address of this machine, never every interface.
listener {port} {listen}
listener {port} 127.0.0.1
"""
    return head + "\n" + bridge(site, host=host, port=hq_port, user=user, password=password,
                                ca_file=ca_file, prefix=prefix)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--site", required=True)
    p.add_argument("--listen", required=True, help="this server's address on the station LAN")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--dynsec", default="/var/lib/mosquitto/dynamic-security.json")
    p.add_argument("--hq-host", required=True)
    p.add_argument("--hq-port", type=int, default=8884)
    p.add_argument("--hq-ca", default="", help="HQ broker's CA certificate (TLS)")
    p.add_argument("--bridge-user", required=True, help="the bridge's user at HQ")
    p.add_argument("--bridge-password-file", type=Path, required=True)
    p.add_argument("--prefix", default="kiosk/v1")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    problem = ""
    if not ID_RE.match(args.site):
        problem = f"--site {args.site!r} is not a valid id (lower-case letters, digits, - _)"
    elif args.listen in ("0.0.0.0", "::"):
        problem = "--listen must be one address of the station LAN, not every interface"
    password = ""
    if not problem:
        try:
            password = args.bridge_password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            problem = f"--bridge-password-file {args.bridge_password_file}: {exc.strerror}"
    if problem:
        print(f"station_broker: {problem}", file=sys.stderr)
        return 2
    text = render(args.site, listen=args.listen, port=args.port, dynsec_file=args.dynsec,
                  host=args.hq_host, hq_port=args.hq_port, user=args.bridge_user,
                  password=password, ca_file=args.hq_ca, prefix=args.prefix)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o640)  # the bridge's password
    tmp.replace(args.out)
    print(f"{args.out}: station broker for {args.site}, bridged to {args.hq_host}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
