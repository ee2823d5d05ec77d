"""The officer panel as a driver: uvicorn serving the panel's app on ``panel.listen``.

The socket is bound in ``start`` (a taken port or a foreign address is a driver fault
naming the key, and the counter runs on), then uvicorn serves it from its own thread with
its own event loop; the app reaches the counter only through the core, like the link.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from device.config import PanelSection
from device.core import Core
from device.roster import Officer, officers
from drivers.base import BaseDriver
from drivers.listen import listen
from drivers.panel.views import PanelApp

log = logging.getLogger("panel")


def parse_listen(listen: str) -> tuple[str, int]:
    """"192.168.50.21:8080" -> ("192.168.50.21", 8080) (config_load checked the form)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class _Server(uvicorn.Server):
    """uvicorn's server with an event set once it accepts requests."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class OfficerPanel(BaseDriver):
    name = "panel"

    def __init__(self, cfg: PanelSection, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self.app: PanelApp | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the real port when the config said port 0: tests)."""
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        return host, port

    def _officers(self) -> dict[str, Officer]:
        return officers(self.core.config, self.core.store)

    def start(self, core: Core) -> None:
        self.core = core
        host, port = parse_listen(self.cfg.listen)
        # TCP_NODELAY: uvicorn writes a page's head and body apart, and without it every
        # page waited ~40 ms for the PC's delayed ACK.
        sock = listen(host, port, backlog=16, name="panel", nodelay=True,
                      fix="set panel.listen to an address of this Pi and a free port")
        self._sock = sock
        self.app = PanelApp(core, self.cfg, self._officers, self.clock)
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", loop="asyncio",
            http="h11", ws="none", timeout_keep_alive=5, limit_concurrency=32,
            server_header=False)
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="panel", daemon=True)
        self._thread.start()
        log.info("panel: serving http://%s:%d/", *self.address)

    def wait_started(self, timeout: float = 10.0) -> bool:
        """True once uvicorn accepts requests (tests and benchmarks wait on it)."""
        return self._server is not None and self._server.ready.wait(timeout)

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
