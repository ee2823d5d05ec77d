"""Fixtures of the HQ console tests (tests/hq/console.py)."""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls
# beside a running loop unless told that this thread is synchronous code, which it is.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Tests create many users: a fast hasher here, PBKDF2 in production (hq/conf.py).
os.environ.setdefault("KIOSK_HQ_FAST_HASH", "1")

from tests.hq.console import console  # noqa: F401
from tests.sync.conftest import *  # noqa: F403  (pg_url, broker, ... for HQ tests)
