"""A listening TCP socket for the drivers that serve the counter LAN (the workstation
link over TCP, the officer panel): bound in ``start``, a failure a driver fault naming
the key to fix, never a traceback."""

from __future__ import annotations

import socket

from device.errors import DriverError


def listen(host: str, port: int, *, backlog: int, name: str, fix: str,
           nodelay: bool = False) -> socket.socket:
    """A socket listening on ``host:port``; DriverError "<name>: cannot listen ... Fix:
    <fix>" when it cannot. ``nodelay``: TCP_NODELAY, which accepted sockets inherit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DriverError(f"{name}: cannot listen on {host}:{port}: {exc}. Fix: {fix}") from None
    sock.listen(backlog)
    return sock
