"""Logging to stdout, one line per record, in a form journald keeps well.

Under systemd (``JOURNAL_STREAM`` set) each line starts with a ``<N>`` syslog priority,
which journald turns into the record's level; journald adds the timestamp itself.
Elsewhere lines carry a UTC timestamp and the level name.
"""

from __future__ import annotations

import logging
import os
import sys
import time

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = super().format(record).replace("\n", " | ")
        return f"<{_PRIORITY.get(record.levelno, 6)}>{record.name}: {msg}"


class _StdStream(logging.StreamHandler):
    """Writes to ``sys.stdout`` (or ``sys.stderr``) as it is when each record comes, not
    as it was at setup: whoever swaps it later (pytest's capture, a daemon redirecting)
    is followed, and a record never goes to a stream already closed."""

    def __init__(self, name: str) -> None:
        self._std = name
        super().__init__()

    @property
    def stream(self) -> object:
        return getattr(sys, self._std)

    @stream.setter
    def stream(self, _value: object) -> None:
        pass  # StreamHandler.__init__ and setStream set it: the name decides


def setup(level: str = "INFO", stream: object = None) -> None:
    handler: logging.Handler
    if stream is None or stream is sys.stdout:
        handler = _StdStream("stdout")
    elif stream is sys.stderr:
        handler = _StdStream("stderr")
    else:
        handler = logging.StreamHandler(stream)  # type: ignore[call-overload]
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                "%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        handler.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Line-buffered stdout so journald and test harnesses see each line at once.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
