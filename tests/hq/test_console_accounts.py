"""Console users: `kiosk-hq user add`, login with throttling, roles, the landing page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.sync_cli import main_hq
from tests.hq.console import Console, login, screenshot


def _pw(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pw"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("args", "password", "message"), [
    (["--role", "chief"], "a-long-password-1", "a chief needs --station SITE"),
    (["--role", "editor", "--station", "s1"], "a-long-password-1", "--station is for chiefs"),
    (["--role", "chief", "--station", "s1/w01"], "a-long-password-1", "is not a site id"),
    (["--role", "admin"], "x7q", "the password is refused"),
    (["--role", "admin"], "", "is empty. Fix: put the password on its first line"),
])
def test_user_add_refuses_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       args: list[str], password: str, message: str) -> None:
    db = str(tmp_path / "hq.db")
    code = main_hq(["user", "add", "li", *args, "--db", db,
                    "--password-file", _pw(tmp_path, password)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert password == "" or password not in err  # a refused password is never echoed


def test_user_add_creates_a_user_with_its_role_and_station(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from django.contrib.auth.models import User

    from hq.accounts.scope import Role, role_of, visible_sites
    from hq.conf import alias_for

    db = str(tmp_path / "hq.db")
    assert main_hq(["user", "add", "wang", "--role", "chief", "--station", "s1", "--db", db,
                    "--password-file", _pw(tmp_path, "chief-password-1\n")]) == 0
    assert "user wang (chief for s1) created" in capsys.readouterr().out
    user = User.objects.using(alias_for(db)).get(username="wang")
    assert role_of(user) is Role.CHIEF and visible_sites(user) == frozenset({"s1"})
    assert user.check_password("chief-password-1") and not user.is_staff
    assert "chief-password-1" not in user.password  # hashed
    assert main_hq(["user", "add", "wang", "--role", "admin", "--db", db,
                    "--password-file", _pw(tmp_path, "other-password-1")]) == 2
    assert "user 'wang' exists already" in capsys.readouterr().err


def test_the_first_start_tells_how_to_create_the_first_admin(console: Console) -> None:
    assert any("kiosk-hq user add admin --role admin" in line for line in console.output)


def test_every_console_page_needs_a_login(console: Console, browser_page: Any) -> None:
    page = browser_page
    page.goto(console.url + "/")
    assert page.url.startswith(console.url + "/accounts/login/")
    assert page.locator("h1").inner_text() == "登录"
    screenshot(page, "login")


def test_a_supervisor_lands_on_links_to_every_section(console: Console,
                                                       browser_page: Any) -> None:
    from hq.fleet.models import Station

    Station.objects.using(console.alias).get_or_create(
        site="s1", defaults={"name": "城关派出所", "district": "城关区"})
    password = console.add_user("zhao", "supervisor")
    page = browser_page
    login(page, console, "zhao", password)
    assert "您好，zhao（市局督察）" in page.locator("h1").inner_text()
    assert "您可以查看全市所有派出所" in page.content()
    assert "这是您第一次登录" in page.content()
    cards = page.locator(".sections a.card h2").all_inner_texts()
    nav = page.locator("header nav a").all_inner_texts()
    assert nav[0] == "首页" and "内容发布" not in nav  # an editor's section
    assert cards == nav[1:]  # every section the header offers has its card, in order
    screenshot(page, "home")
    # Logging out and in again: the landing page tells when the previous login was.
    page.click("header .who button")
    login(page, console, "zhao", password)
    assert "上次登录：" in page.content()


def test_a_chief_sees_their_station_by_name(console: Console, browser_page: Any) -> None:
    from hq.fleet.models import Station

    Station.objects.using(console.alias).get_or_create(
        site="s2", defaults={"name": "东关派出所", "district": "城关区"})
    password = console.add_user("qian", "chief", station="s2")
    login(browser_page, console, "qian", password)
    assert "您负责：东关派出所。" in browser_page.content()
    assert "管理后台" not in browser_page.locator("header nav").inner_text()


def test_five_wrong_passwords_lock_the_login(console: Console, browser_page: Any) -> None:
    console.add_user("sun", "editor")
    page = browser_page
    for _ in range(5):
        page.goto(console.url + "/accounts/login/")
        page.fill("#id_username", "sun")
        page.fill("#id_password", "wrong-password")
        page.click("button[type=submit]")
    assert "登录已暂时锁定" in page.content()
    # Even the right password is refused now (django-axes, per user and address).
    page.goto(console.url + "/accounts/login/")
    page.fill("#id_username", "sun")
    page.fill("#id_password", "anything")
    page.click("button[type=submit]")
    assert "登录已暂时锁定" in page.content()
