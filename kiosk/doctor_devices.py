"""The doctor's checks of the devices, the broker and the services.

While the kiosk runs its devices are not opened twice: its faults are read over the
control socket (:func:`running_counter`, :func:`checks_from_faults`); with the kiosk
stopped each device is probed (drivers/probes.py), and the broker through sync/probe.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from device.codes import fault_texts
from device.config import Config
from kiosk.doctor_env import FAIL, PASS, WARN, Check, Env

# A fault this version does not know (a newer counter answering an older doctor).
UNKNOWN_FAULT_FIX = "journalctl -u kiosk -b shows the details"


def fault_fix(value: str) -> str:
    """The technician's fix for a fault value the running counter reported."""
    texts = fault_texts(value)
    return texts.fix if texts else UNKNOWN_FAULT_FIX


def running_counter(cfg: Config) -> dict[str, Any] | None:
    """The running kiosk's state reply, or None when no kiosk answers."""
    from device.errors import KioskError
    from kiosk.control import ControlClient

    if not cfg.control_socket.exists():
        return None
    try:
        with ControlClient(cfg.control_socket, timeout=5) as client:
            reply = client.request({"cmd": "state"})
    except (KioskError, OSError, ValueError):
        return None
    return reply if reply.get("ok") else None


def lock_holder(cfg: Config) -> str | None:
    """The pid of a kiosk holding the state directory's lock (alive, maybe hung), or None."""
    import fcntl

    path = cfg.state_dir / "kiosk.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(fd, 16).decode("ascii", "replace").strip() or "?"
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


DEVICES = ("gpio", "printer", "sign", "link", "scanner", "panel")


def checks_from_faults(faults: dict[str, str]) -> list[Check]:
    out = []
    for name in DEVICES:
        mine = {c: f for c, f in faults.items()
                if c == name or c.startswith(f"{name}.") or (name == "gpio" and
                                                             c.startswith("button."))}
        if not mine:
            out.append(Check(name, PASS, f"{name}: no fault reported by the running counter"))
            continue
        text = ", ".join(f"{c}: {f}" for c, f in sorted(mine.items()))
        fixes = sorted({fault_fix(f) for f in mine.values()})
        out.append(Check(name, FAIL, f"the running counter reports {text}", "; ".join(fixes)))
    return out


def probe_devices(cfg: Config, env: Env, timeout: float) -> list[Check]:
    try:
        probes = env.probes()
    except ImportError as exc:
        return [Check("gpio", FAIL, f"cannot load the drivers: {exc}",
                      "reinstall: sudo /opt/counter-kiosk/current/share/counter-kiosk/"
                      "systemd/install.sh")]
    calls: list[tuple[str, Callable[[], tuple[str, str, str]]]] = [
        ("gpio", lambda: probes.gpio(cfg.gpio)),
        ("printer", lambda: probes.printer(cfg.printer)),
        ("sign", lambda: probes.sign(cfg.sign, timeout=min(timeout, 5.0))),
        ("link", lambda: probes.link(cfg.link)),
        ("scanner", lambda: probes.scanner(cfg.scanner)),
        ("panel", lambda: probes.panel(cfg.panel, cfg.roster)),
    ]
    out = []
    for name, call in calls:
        try:
            status, detail, fix = call()
        except Exception as exc:  # a probe bug must not hide the other checks
            status, detail, fix = FAIL, f"{name}: probe failed: {type(exc).__name__}: {exc}", (
                "journalctl and the traceback with --debug; report it")
        out.append(Check(name, status, detail, fix))
    return out


def check_broker(cfg: Config, env: Env, simulate: bool, timeout: float) -> Check:
    if not cfg.mqtt.host and simulate:
        return Check("broker", PASS, "no broker configured (simulation: events stay in the "
                     "outbox)")
    try:
        status, detail, fix = env.broker_probe().broker(cfg, timeout=timeout)
    except ImportError as exc:
        return Check("broker", FAIL, f"cannot load the MQTT client: {exc}", "reinstall")
    return Check("broker", status, detail, fix)


def check_station(cfg: Config, env: Env, timeout: float) -> Check:
    """The station link (a network check like the broker's: also while the kiosk runs)."""
    try:
        status, detail, fix = env.probes().station(cfg, timeout=timeout)
    except ImportError as exc:
        return Check("station", FAIL, f"cannot load the station client: {exc}", "reinstall")
    return Check("station", status, detail, fix)


def check_services(env: Env) -> Check:
    states = {}
    for unit in ("kiosk.service", "kiosk-sync.service"):
        states[unit] = env.run(["systemctl", "is-active", unit]) or "inactive"
    down = [u for u, s in states.items() if s != "active"]
    text = ", ".join(f"{u} {s}" for u, s in states.items())
    if down:
        return Check("services", WARN, text, "sudo systemctl enable --now " + " ".join(down) +
                     "; journalctl -u " + down[0] + " -b says why it stopped")
    return Check("services", PASS, text)
