"""The public results: a supervisor publishes a month; anyone reads it without a login,
with figures and names and no personal data; unpublished months are not public."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot
from tests.hq.test_reports import _setup


def test_a_published_month_is_public_and_printable(console: Console, _chromium: Any) -> None:
    _setup(console)  # November 2026 at 城关派出所, with a 差评 and a phone in a comment
    staff = _chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = staff.new_page()
    try:
        login(page, console, "pub-sup", console.add_user("pub-sup", "supervisor"))
        page.goto(console.url + "/public/")
        page.select_option("#p-site", label="城关派出所")
        page.fill("#p-month", "2099-01")
        page.click("form button.primary")
        expect(page.locator(".messages")).to_contain_text("还没有结束")
        page.fill("#p-month", "2026-11")
        page.click("form button.primary")
        expect(page.locator(".messages")).to_contain_text("已公布城关派出所 2026-11")
    finally:
        staff.close()
    public = _chromium.new_context(locale="zh-CN")  # nobody logged in
    page = public.new_page()
    try:
        page.goto(console.url + "/public/")
        expect(page.locator("h1")).to_have_text("窗口服务群众评价结果公开")
        screenshot(page, "public")
        page.click("a:has-text('2026-11 月度评价结果公告')")
        notice = page.locator("article.notice")
        expect(notice).to_contain_text("城关派出所")
        expect(notice).to_contain_text("1号窗口")
        expect(notice).to_contain_text("好评率 40.0%，差评率 40.0%。收到差评 2 件")
        screenshot(page, "public-notice")
        text = page.content()
        for private in ("13800000000", "C2", "000001", "张三"):
            assert private not in text, private
        reply = page.goto(console.url + "/public/s1/2026-10/")  # not published
        assert reply is not None and reply.status == 404
        post = page.request.post(console.url + "/public/publish/",
                                 form={"site": "s1", "month": "2026-10"})
        assert post.status in (403, 302)  # CSRF or the login: never published
        from hq.reports.models import PublishedMonth

        assert not PublishedMonth.objects.using(console.alias).filter(month="2026-10").exists()
    finally:
        public.close()
