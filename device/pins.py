"""Officers' PINs for the officer panel, as hashes only (drivers/panel/).

The format is Django's PBKDF2 one, ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``,
so HQ's console makes a roster entry's hash with ``django.contrib.auth.hashers
.make_password`` and the counter checks it here with the standard library alone. A PIN
has few digits: the hash keeps the roster free of PINs in the clear, the panel's login
throttle is what stops guessing (docs/officer-panel.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from device.errors import ParseError

ALGORITHM = "pbkdf2_sha256"
# Django 5.2's default; the counter checks one hash per sign-in (about 0.5 s on a Pi 4).
ITERATIONS = 1_000_000
MIN_ITERATIONS = 10_000  # below this a hash is refused as too weak to hold
MAX_ITERATIONS = 10_000_000  # above this one sign-in would hold the panel for minutes
_HASH_RE = re.compile(r"pbkdf2_sha256\$([0-9]{1,9})\$([A-Za-z0-9./+=_-]{1,64})\$"
                      r"([A-Za-z0-9+/=]{40,64})")
PIN_RE = re.compile(r"[0-9]{4,12}")


@dataclass(frozen=True)
class PinHash:
    iterations: int
    salt: str
    digest: bytes

    def matches(self, pin: str) -> bool:
        """Constant-time comparison of ``pin``'s hash with this one."""
        got = hashlib.pbkdf2_hmac("sha256", pin.encode(), self.salt.encode(),
                                  self.iterations)
        return hmac.compare_digest(got, self.digest)


def parse(text: str, where: str = "pin_hash") -> PinHash:
    """A stored hash; ParseError naming ``where`` and how to make a good one."""
    m = _HASH_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"{where} is not a PIN hash like 'pbkdf2_sha256$1000000$<salt>$"
                         "<hash>': make it with `kiosk hash-pin` or HQ's console")
    iterations = int(m.group(1))
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ParseError(f"{where} uses {iterations} iterations; use {MIN_ITERATIONS} to "
                         f"{MAX_ITERATIONS} (`kiosk hash-pin` uses {ITERATIONS})")
    try:
        digest = base64.b64decode(m.group(3), validate=True)
    except ValueError:
        raise ParseError(f"{where}: the hash part is not base64; make the hash again "
                         "with `kiosk hash-pin`") from None
    if len(digest) != 32:
        raise ParseError(f"{where}: the hash part is {len(digest)} bytes, not 32 "
                         "(SHA-256); make the hash again with `kiosk hash-pin`")
    return PinHash(iterations, m.group(2), digest)


def check_pin(pin: str) -> str:
    """A PIN as typed: 4 to 12 digits, else ParseError saying so."""
    if not PIN_RE.fullmatch(pin):
        raise ParseError("a PIN is 4 to 12 digits")
    return pin


def make(pin: str, *, iterations: int = ITERATIONS, salt: str | None = None) -> str:
    """The stored form of ``pin`` (what `kiosk hash-pin` prints; Django's format)."""
    check_pin(pin)
    salt = salt or secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode()}"
