"""The away board names the phone of the officer who is signed in now and a backup who is
not that officer (issue 9, item 1): the core's state, the sign and the link all agree."""

from __future__ import annotations

import dataclasses

from device.codes import Refusal
from device.config import Config
from device.core import Core
from device.counter import Mode
from device.intents import AwaySet, Press, SignIn
from drivers.link import handle_line
from drivers.sign import SignDriver

PHONE_1, PHONE_2 = "0755-8000 0001", "0755-8000 0002"  # the shipped roster



def _board(sign: SignDriver) -> dict[str, str]:
    assert sign.wait_idle(5) and sign.sim is not None
    return sign.sim.emulator.texts()


def test_the_configured_officer_leaves_and_names_the_b_post(core: Core, sign) -> None:
    core.submit(Press("away"))
    assert core.state.away is not None
    assert (core.state.away.phone, core.state.away.backup) == (PHONE_1, "000002")
    board = _board(sign)
    assert (board["phone"], board["backup"]) == (PHONE_1, "王芳 警号000002")


def test_the_b_post_officer_signed_in_leaves(core: Core, sign) -> None:
    reply = handle_line(core, '{"op": "sign_in", "badge": "000002"}')
    assert reply["ok"], reply
    core.submit(Press("away"))
    away = core.state.away
    assert away is not None
    # Her own phone, and the backup is the other officer, never herself.
    assert (away.phone, away.backup) == (PHONE_2, "000001")
    board = _board(sign)
    assert board["officer"] == "王芳 警号000002"
    assert (board["phone"], board["backup"]) == (PHONE_2, "李明 警号000001")


def test_deferred_away_uses_the_officer_of_that_moment(core: Core) -> None:
    core.submit(SignIn("000002"))
    core.submit(Press("next"))
    core.submit(Press("next"))  # case ended: rating
    core.submit(Press("away"))  # deferred until the rating
    core.submit(Press("satisfied"))
    assert core.state.mode is Mode.AWAY and core.state.away is not None
    assert (core.state.away.phone, core.state.away.backup) == (PHONE_2, "000001")


def test_backup_window_goes_with_the_backup(config: Config, store, clock) -> None:
    cfg = dataclasses.replace(config, staff=dataclasses.replace(config.staff, backup_window=2))
    core = Core(cfg, store, clock=clock)
    core.submit(SignIn("000002"))
    core.submit(Press("away"))
    assert core.state.away is not None and core.state.away.backup == "000001; window 2"


def test_an_officer_outside_the_roster_has_no_phone_of_another(core: Core) -> None:
    core.submit(SignIn("000009"))
    core.submit(Press("away"))
    assert core.state.away is not None
    assert (core.state.away.phone, core.state.away.backup) == ("", "000002")


def test_workstation_cannot_name_the_absent_officer_as_backup(core: Core) -> None:
    core.submit(SignIn("000002"))
    out = core.submit(AwaySet("开会", "10:30", backup="000002"))
    assert not out.ok and out.refused is Refusal.BACKUP_IS_ABSENT
    assert "000002 is the officer who is going away" in out.reason
    assert core.state.mode is Mode.IDLE
    out = core.submit(AwaySet("开会", "10:30", backup="window 3"))
    assert out.ok and core.state.away is not None and core.state.away.backup == "window 3"
    assert core.state.away.phone == PHONE_2  # not given: the absent officer's own
