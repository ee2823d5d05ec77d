"""The ticket printer: ESC/POS over USB, serial, network or a simulator (docs/printer.md).

* :mod:`.slips` says what each job kind prints, as :mod:`.blocks` (text, rule, QR, cut);
  :mod:`.layout` turns a :class:`device.printjobs.PrintJob` into bytes through them
  (58/80 mm, native GB18030 or raster Chinese); :mod:`.chinese` holds the two modes;
* :mod:`.transports` moves the bytes (drivers/registry.py picks which one from
  ``printer.transport``); :mod:`.status` parses DLE EOT replies;
* :mod:`.worker` prints the durable queue in order, once, through faults.

The UI asks for a print by committing a job with its event:
``core.record([...], also=[store.enqueue_print(PrintJob(kind, data))])``.
"""

from __future__ import annotations

from typing import Any

from device.config import PrinterSection
from device.core import Core
from drivers.base import BaseDriver, ControlHandler
from drivers.printer.decode import decode_text
from drivers.printer.layout import Profile
from drivers.printer.status import Paper
from drivers.printer.transports import SimDevice, SimTransport, Transport
from drivers.printer.worker import PrintWorker

__all__ = ["PrinterDriver"]


class PrinterDriver(BaseDriver):
    name = "printer"

    def __init__(self, cfg: PrinterSection, transport: Transport, *,
                 threaded: bool = True) -> None:
        self.cfg = cfg
        self.threaded = threaded  # False: the caller runs worker.step() (tests)
        self.transport = transport  # not opened yet: the worker opens it
        self.worker: PrintWorker | None = None

    def start(self, core: Core) -> None:
        self.core = core
        self.worker = PrintWorker(core, self.transport, Profile.from_config(self.cfg),
                                  retry_s=self.cfg.retry_s)
        core.subscribe(self.worker.on_change)
        if self.threaded:
            self.worker.start()

    def close(self) -> None:
        if self.worker is not None:
            self.core.unsubscribe(self.worker.on_change)
            self.worker.stop()
            self.worker = None
        self.transport.close()

    def control_commands(self) -> dict[str, ControlHandler]:
        # Only the simulator can be driven (a real printer's paper is not a command).
        if isinstance(self.transport, SimTransport):
            return {"printer": self._sim}
        return {}

    def _sim(self, req: dict[str, Any]) -> dict[str, Any]:
        """`kiosk sim printer [--paper out|near_end|ok] [--cover open|closed]
        [--offline|--online] [--unplug|--plug] [--paper-after N] [--last N]`."""
        assert isinstance(self.transport, SimTransport) and self.worker is not None
        dev: SimDevice = self.transport.device
        with dev.lock:
            if "paper" in req:
                try:
                    dev.paper = Paper(req["paper"])
                except ValueError:
                    return {"ok": False, "error": "paper must be ok, near_end or out"}
            if "cover" in req:
                dev.cover_open = req["cover"] == "open"
            if "online" in req:
                dev.offline = not bool(req["online"])
            if "unplugged" in req:
                dev.unplugged = bool(req["unplugged"])
            if "paper_after" in req:
                n = req["paper_after"]
                dev.paper_after = n if isinstance(n, int) and n >= 0 else None
            last = req.get("last", 3)
            jobs = list(dev.jobs)[-last:] if isinstance(last, int) and last > 0 else []
            state = {"paper": dev.paper.value, "cover_open": dev.cover_open,
                     "online": not dev.offline, "unplugged": dev.unplugged,
                     "bytes": dev.written}
        self.worker.wake.set()  # a change of paper or cover: try pending jobs now
        return {"ok": True, "printer": state, "printed": self.worker.printed,
                "fault": self.core.faults.get("printer", ""),
                "jobs": [decode_text(j) for j in jobs]}
