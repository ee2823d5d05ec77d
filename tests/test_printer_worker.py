"""Fault behaviour: a job is printed exactly once in the end, through paper out mid-job,
a port that disappears and comes back, a printer that never answers, and a restart."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config, PrinterSection
from device.core import Core
from device.events import Draft, EventType
from device.printjobs import PrintJob
from device.store import Store
from drivers import registry
from drivers.printer import PrinterDriver, commands, decode
from drivers.printer.layout import Profile, job_bytes
from drivers.printer.status import Paper, status_byte
from drivers.printer.transports import NetworkTransport, SerialTransport, SimDevice, SimTransport
from tests.printer_support import JOBS, FakeSerialPrinter
from tests.serial_helpers import Watcher

PROFILE_80 = Profile()  # the config default: 80 mm, native Chinese


def add(core: Core, job: PrintJob) -> None:
    """What the UI does: the job commits with the event that asked for it."""
    core.record([Draft(EventType.TICKET_ISSUED, {"number": "A023"})] if job.kind == "ticket"
                else [], also=[core.store.enqueue_print(job)])


def pending_ids(store: Store) -> list[int]:
    return [j.id for j in store.pending_prints()]


def events(store: Store, *types: str) -> list[dict]:
    return [e for e in store.events() if not types or e["type"] in types]


def printer_cfg(**kw: object) -> PrinterSection:
    return dataclasses.replace(PrinterSection(), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- simulator


def test_sim_paper_out_mid_job_then_back_prints_once(core: Core, store: Store) -> None:
    device = SimDevice()
    driver = PrinterDriver(printer_cfg(), transport=SimTransport(device), threaded=False)
    driver.start(core)
    assert driver.worker is not None
    watch = Watcher(core)
    add(core, JOBS["checklist"])
    full = job_bytes(JOBS["checklist"], PROFILE_80)
    device.paper_after = len(full) // 2  # the roll ends halfway through the slip

    assert driver.worker.step() == 0
    assert pending_ids(store) == [1]
    assert core.faults == {"printer": "paper_out"}
    assert [e["data"]["fault"] for e in events(store, "device.fault")] == ["paper_out"]
    assert any(kind == "error" and "缺纸" in text for text, kind in watch.notices())
    assert device.output == full[:len(full) // 2]  # the torn half

    assert driver.worker.step() == 0  # still out: no second fault event, nothing sent
    assert len(events(store, "device.fault")) == 1
    with store.transaction() as conn:
        attempts = conn.execute("SELECT attempts, last_error FROM print_jobs").fetchone()
    assert attempts[0] == 2 and "paper_out" in attempts[1]

    reply = driver.control_commands()["printer"]({"paper": "ok"})  # kiosk sim printer
    assert reply["ok"] and reply["printer"]["paper"] == "ok"
    assert driver.worker.step() == 1
    assert pending_ids(store) == []
    assert core.faults == {}
    # the reprint: buffer clear, then the whole job once
    assert device.output == full[:len(full) // 2] + commands.CLEAR_BUFFERS + full
    assert device.output.count(full) == 1
    types = [e["type"] for e in events(store)]
    assert types[-3:] == ["device.fault", "device.recovered", "slip.printed"]
    slip = events(store, "slip.printed")[0]["data"]
    assert slip == {"job_id": 1, "kind": "checklist", "catalogue_version": "2026.11-3",
                    "service_code": "hukou.move_in"}
    assert driver.worker.step() == 0 and device.output.count(full) == 1  # never twice
    assert "一次性告知单" in driver.control_commands()["printer"]({"last": 1})["jobs"][0]
    driver.close()


def test_jobs_print_in_order_and_tickets_only_mark(core: Core, store: Store) -> None:
    device = SimDevice()
    driver = PrinterDriver(printer_cfg(), transport=SimTransport(device), threaded=False)
    driver.start(core)
    for kind in ("ticket", "receipt", "refusal", "notice"):
        add(core, JOBS[kind])
    assert driver.worker is not None and driver.worker.step() == 4
    assert [decode.decode_text(j).splitlines()[0] for j in device.jobs] == \
        ["示范派出所", "受理回执", "不予受理告知书", "补正材料告知书"]
    slips = events(store, "slip.printed")
    assert [e["data"]["kind"] for e in slips] == ["receipt", "refusal", "notice"]
    assert slips[0]["data"]["case_no"] == "W01-20261126-009"
    assert all("officer" not in e["data"] for e in slips)  # names never go into events
    driver.close()


def test_pending_job_survives_a_restart_and_prints_once(config: Config, tmp_path: Path
                                                          ) -> None:
    store = Store(config.db_path, site="s", device="d")
    core = Core(config, store)
    dead = SimDevice()
    dead.unplugged = True
    driver = PrinterDriver(printer_cfg(), transport=SimTransport(dead), threaded=False)
    driver.start(core)
    add(core, JOBS["receipt"])
    assert driver.worker is not None and driver.worker.step() == 0
    assert core.faults == {"printer": "port_gone"}
    driver.close()
    store.close()  # the process ends with the job pending

    store = Store(config.db_path, site="s", device="d")
    core = Core(config, store)
    device = SimDevice()
    driver = PrinterDriver(printer_cfg(), transport=SimTransport(device))
    watch = Watcher(core)
    driver.start(core)  # the thread prints what the last run left pending
    watch.wait(lambda: not pending_ids(store), timeout=15)
    assert len(device.jobs) == 1 and decode.decode_text(device.jobs[0]).startswith("受理回执")
    driver.close()
    store.close()


# --------------------------------------------------------------------------- pty serial


@pytest.fixture
def fake() -> Iterator[FakeSerialPrinter]:
    f = FakeSerialPrinter()
    yield f
    f.close()


def test_serial_pty_paper_out_mid_job_and_back(core: Core, store: Store,
                                               fake: FakeSerialPrinter) -> None:
    cfg = printer_cfg(transport="serial", url=fake.path, retry_s=0.05)
    driver = PrinterDriver(cfg, transport=SerialTransport(fake.path, timeout=0.5))
    watch = Watcher(core)
    driver.start(core)
    ticket = job_bytes(JOBS["ticket"], PROFILE_80)
    checklist = job_bytes(JOBS["checklist"], PROFILE_80)
    fake.paper_after = len(ticket) + 200  # the ticket prints, the checklist is cut short
    add(core, JOBS["ticket"])
    add(core, JOBS["checklist"])
    watch.wait(lambda: core.faults.get("printer") == "paper_out", timeout=15)
    assert pending_ids(store) == [2]
    assert bytes(fake.printed) == ticket + checklist[:200]
    assert fake.queries[:4] == [1, 2, 3, 4]  # asked before the first job

    with fake.lock:
        fake.paper = Paper.OK  # the officer loads a new roll
    watch.wait(lambda: not pending_ids(store) and "printer" not in core.faults, timeout=15)
    printed = bytes(fake.printed)
    assert printed.count(ticket) == 1 and printed.count(checklist) == 1
    assert printed.endswith(checklist)
    seen = events(store, "device.fault", "device.recovered", "slip.printed")
    assert seen[0]["data"]["fault"] == "paper_out"
    # A retry can read the status while the roll goes in (n=1 offline, n=4 ok): an
    # "offline" fault in between is the truth of that moment, not an error.
    assert {e["data"]["fault"] for e in seen[:-2]} <= {"paper_out", "offline"}
    assert [e["type"] for e in seen[-2:]] == ["device.recovered", "slip.printed"]
    assert len(events(store, "device.recovered")) == 1
    assert "打印机已恢复，正在打印您的单据。" in [t for t, _ in watch.notices()]
    driver.close()


def test_serial_port_gone_and_back(core: Core, store: Store, tmp_path: Path) -> None:
    link = tmp_path / "printer-by-id"  # like /dev/serial/by-id/..., re-pointed on replug
    first = FakeSerialPrinter()
    link.symlink_to(first.path)
    cfg = printer_cfg(transport="serial", url=str(link), retry_s=0.05)
    driver = PrinterDriver(cfg, transport=SerialTransport(str(link), timeout=0.5))
    watch = Watcher(core)
    driver.start(core)
    add(core, JOBS["ticket"])
    ticket = job_bytes(JOBS["ticket"], PROFILE_80)
    assert first.wait_printed(lambda b: b == ticket)
    watch.wait(lambda: not pending_ids(store), timeout=15)

    first.close()  # the USB serial adapter is pulled
    link.unlink()
    add(core, JOBS["receipt"])
    watch.wait(lambda: core.faults.get("printer") == "port_gone", timeout=15)
    assert pending_ids(store) == [2]

    second = FakeSerialPrinter()
    try:
        link.symlink_to(second.path)  # plugged back in, a new tty behind the same name
        receipt = job_bytes(JOBS["receipt"], PROFILE_80)
        watch.wait(lambda: not pending_ids(store) and "printer" not in core.faults, timeout=15)
        assert second.wait_printed(lambda b: b.endswith(receipt))
        assert bytes(second.printed).count(receipt) == 1
        assert [e["data"]["fault"] for e in events(store, "device.fault")] == ["port_gone"]
        assert len(events(store, "device.recovered")) == 1
        assert [e["data"]["kind"] for e in events(store, "slip.printed")] == ["receipt"]
    finally:
        driver.close()
        second.close()


def test_printer_that_never_answers_is_unknown_not_ok(core: Core, store: Store) -> None:
    fake = FakeSerialPrinter(answer=False)
    try:
        driver = PrinterDriver(printer_cfg(), transport=SerialTransport(fake.path,
                                                                        timeout=0.05),
                               threaded=False)
        driver.start(core)
        add(core, JOBS["ticket"])
        assert driver.worker is not None and driver.worker.step() == 1
        status = driver.worker.status
        assert not status.answered and status.paper is Paper.UNKNOWN
        assert status.as_dict()["fault"] == "unknown"
        assert fake.queries[:1] == [1] and core.faults == {}
        driver.close()
    finally:
        fake.close()


# --------------------------------------------------------------------------- network


@pytest.mark.parametrize("via", ["network", "serial socket://"])
def test_tcp_printer_prints_and_reads_status(core: Core, store: Store, via: str) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    got = bytearray()
    done = threading.Event()

    def printer() -> None:  # a network printer on port 9100's stand-in
        conn, _ = server.accept()
        buf = b""
        with conn:
            while chunk := conn.recv(65536):
                buf += chunk
                items, used = decode.parse(buf, partial=True)
                for it in items:
                    if it.kind == "status":
                        conn.sendall(bytes([status_byte(it.value, paper=Paper.NEAR_END)]))
                    elif it.kind == "cut":
                        done.set()
                got.extend(buf[:used])
                buf = buf[used:]

    threading.Thread(target=printer, daemon=True).start()
    transport = (NetworkTransport(f"127.0.0.1:{port}", timeout=1.0) if via == "network"
                 else SerialTransport(f"socket://127.0.0.1:{port}", timeout=1.0))
    driver = PrinterDriver(printer_cfg(), transport=transport, threaded=False)
    driver.start(core)
    add(core, JOBS["ticket"])
    assert driver.worker is not None and driver.worker.step() == 1
    assert done.wait(5)
    assert job_bytes(JOBS["ticket"], PROFILE_80) in bytes(got)
    assert driver.worker.status.paper is Paper.NEAR_END  # a warning, not a fault
    assert core.faults == {}
    driver.close()
    server.close()


def test_network_printer_down_is_a_fault(core: Core, store: Store) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    driver = PrinterDriver(printer_cfg(), transport=NetworkTransport(f"127.0.0.1:{port}"),
                           threaded=False)
    driver.start(core)
    add(core, JOBS["ticket"])
    assert driver.worker is not None and driver.worker.step() == 0
    assert core.faults == {"printer": "port_gone"} and pending_ids(store) == [1]
    driver.close()


def test_idle_printer_out_of_paper_shows_before_any_job(core: Core, store: Store) -> None:
    device = SimDevice()
    driver = PrinterDriver(printer_cfg(), transport=SimTransport(device), threaded=False)
    driver.start(core)
    watch = Watcher(core)
    sim = driver.control_commands()["printer"]
    sim({"paper": "out"})
    assert driver.worker is not None and driver.worker.step() == 0
    assert core.faults == {"printer": "paper_out"}
    assert any("缺纸" in text for text, _ in watch.notices())
    sim({"paper": "ok"})
    driver.worker.step()  # faulted: every pass probes
    assert core.faults == {}
    assert [e["type"] for e in events(store)][-2:] == ["device.fault", "device.recovered"]
    driver.close()


def test_registry_builds_the_simulated_printer_with_its_sim_command(config: Config) -> None:
    from drivers.registry import build

    printers = [d for d in build(config) if d.name == "printer"]
    assert len(printers) == 1 and "printer" in printers[0].control_commands()
    real = build(dataclasses.replace(config, printer=printer_cfg(
        transport="network", url="192.0.2.1:9100")))
    assert [d.control_commands() for d in real if d.name == "printer"] == [{}]


@pytest.mark.parametrize("key", ["retry_s", "status_timeout_s", "baudrate"])
def test_config_refuses_a_printer_timing_of_zero(key: str) -> None:
    from device.config import loads
    from device.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"printer\.{key}: 0(\.0)? is below the minimum"):
        loads(f"[printer]\n{key} = 0\n")


def test_sim_keeps_the_bytes_in_the_state_dir(core: Core, store: Store, config: Config
                                              ) -> None:
    driver = registry.printer(config.printer, config.state_dir, threaded=False)
    driver.start(core)  # the configured simulator: bytes go to <state_dir>/printer-sim.bin
    add(core, JOBS["notice"])
    assert driver.worker is not None and driver.worker.step() == 1
    kept = (config.state_dir / "printer-sim.bin").read_bytes()
    assert kept == job_bytes(JOBS["notice"], PROFILE_80)
    driver.close()
