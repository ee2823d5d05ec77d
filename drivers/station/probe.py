"""The station check for `kiosk doctor`: can this device reach the station broker, and
does kiosk-station say it is there (its retained ``station/server``)?

It connects with the device's own station client (drivers/station/client.py: the same
TLS, login and client id ``<site>.<device>.station``, which the station broker binds to
the login, so an id of its own would be refused on a healthy device). The running
kiosk's station client is dropped for that moment and reconnects within 2 s; a request
in flight keeps its rid and is resent. It publishes nothing.
"""

from __future__ import annotations

import threading

from device.config import Config
from device.errors import DriverError
from drivers.station.client import StationClient

Verdict = tuple[str, str, str]
PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


def station(cfg: Config, timeout: float = 5.0) -> Verdict:
    st = cfg.station
    if not st.enabled:
        return PASS, "station: off (station.enabled = false: this counter keeps its own queue)", ""
    where = f"{st.host}:{st.port}" + (" (TLS)" if st.tls else "")
    own = (f"; meanwhile tickets come from this device's own block {st.fallback_prefix}"
           if st.role != "hall" and st.fallback_prefix else "")
    try:
        client = StationClient(cfg)
    except DriverError as exc:
        return FAIL, f"station: {exc}", "install the files named in [station]"
    heard = threading.Event()
    client.subscribe_state(lambda _online: heard.set())
    try:
        client.start()
        if not client.connected.wait(timeout):
            if client.refused:
                return (FAIL, f"station: the station broker at {where} refused this device: "
                        f"{client.refused}", "check station.username and password_file "
                        "against the station broker's rules (provision/broker_rules.py)")
            return (FAIL, f"station: cannot reach the station broker at {where} within "
                    f"{timeout:g} s{own}", "check station.host and port, and on the station "
                    "server: systemctl status mosquitto")
        if not heard.wait(timeout):
            return (WARN, f"station: the station broker at {where} answers, but kiosk-station "
                    f"has never said it is there{own}", "start it on the station server: "
                    "systemctl start kiosk-station; check that its [mqtt] names this broker")
        if client.online is not True:
            return (FAIL, f"station: kiosk-station is offline (its last word on {where})"
                    f"{own}", "on the station server: systemctl status kiosk-station; "
                    "journalctl -u kiosk-station -b")
        return PASS, f"station: kiosk-station online at {where}, this device is a {st.role}", ""
    finally:
        client.close()
