"""One exception root, one subclass per layer (the Mopidy way).

Every error the project raises on purpose derives from :class:`KioskError`, so a caller
can catch "anything we understood" without swallowing programming errors.
"""

from __future__ import annotations


class KioskError(Exception):
    """Root of every error counter-kiosk raises on purpose."""


class ConfigError(KioskError):
    """The configuration is invalid. ``str()`` names the key, its line and the fix."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.key = key
        self.line = line


class StoreError(KioskError):
    """The SQLite store cannot do what was asked (schema, integrity, disk)."""


class StateError(KioskError):
    """An intent does not apply in the counter's current state (it changed nothing)."""


class ParseError(KioskError):
    """Bytes or text from outside (serial line, MQTT payload, QR code) are malformed.

    Every parser in the project raises only this (or returns a valid message), so a
    caller can turn any garbage into a clear message without crashing.
    """


class DriverError(KioskError):
    """A peripheral failed (printer out of paper, sign not answering, port gone)."""


class SyncError(KioskError):
    """MQTT sync or the HQ collector failed."""


class UiError(KioskError):
    """The touchscreen could not be started or drawn."""
