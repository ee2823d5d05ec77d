"""Shared fixtures: a config on a temp state dir, a real SQLite store, a core on a fake clock.

Keep this small; fixtures used by one test file live in that file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from device.config import Config
from device.core import Core
from device.store import Store

# 2026-11-26 09:00 in Asia/Shanghai: a working-day morning, so case numbers and return
# times are predictable.
T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC).timestamp()


class FakeClock:
    """Wall-clock seconds the test moves by hand (the rating timeout, away durations)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def config(tmp_path) -> Config:
    """Embedded defaults, every peripheral simulated, state in a temp dir."""
    return Config().with_state_dir(tmp_path / "state").simulated()


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    s = Store(config.db_path, site=config.device.site, device=config.device.id)
    yield s
    s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def core(config: Config, store: Store, clock: FakeClock) -> Core:
    return Core(config, store, clock=clock)
