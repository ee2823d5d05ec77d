"""Shared fixtures: a config on a temp state dir, a real SQLite store, a counter (core and
queue desk, built by the program's own ``build_counter``) on a fake clock.

Keep this small; fixtures used by one test file live in that file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from device.config import Config
from device.core import Core
from device.queue import QueueDesk
from device.store import Store
from drivers import registry
from drivers.sign import SignDriver
from kiosk.build import Counter, build_counter
from tests.browser import _chromium, browser_page  # noqa: F401  (chromium for page tests)

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
def make_counter(store: Store, clock: FakeClock) -> Callable[[Config], Counter]:
    """A counter for ``cfg`` on the test's store and clock, without drivers."""
    def make(cfg: Config) -> Counter:
        return build_counter(cfg, store=store, clock=clock, with_drivers=False)

    return make


@pytest.fixture
def counter(config: Config, make_counter: Callable[[Config], Counter]) -> Counter:
    return make_counter(config)


@pytest.fixture
def core(counter: Counter) -> Core:
    return counter.core


@pytest.fixture
def desk(counter: Counter) -> QueueDesk:
    return counter.desk


@pytest.fixture
def sign(core: Core, config: Config) -> Iterator[SignDriver]:
    """The simulated away board and serial sign (the registry's), started on ``core``."""
    driver = registry.sign(config)
    driver.start(core)
    yield driver
    driver.close()
