"""The officer panel's web application (Starlette): sign-in, the page, and its forms.

Every POST carries a CSRF token: the session's own once signed in, the sign-in form's
(a cookie it must match) before. Requests from another origin, from a PC outside
``panel.allow_from`` or without a live session are refused before any form is read.
Each form becomes one workstation-link request (forms.py) and goes through the link's
checks and the core (drivers/link.py), so its result is the reply a workstation gets;
the page shows it once, after a redirect (a reload never submits twice).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from device.config import PanelSection
from device.core import Core
from device.errors import ParseError
from device.pins import PIN_RE
from device.roster import Officer
from drivers.link import catalogue_of, handle_message
from drivers.panel import page
from drivers.panel.forms import MAX_BODY, Form, one, parse_body, to_message
from drivers.panel.messages import done_text, refused_text
from drivers.panel.sessions import Busy, Desk, Session, Throttle

log = logging.getLogger("panel")
HERE = Path(__file__).parent
COOKIE, PRE_COOKIE = "kp_session", "kp_signin"
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store", "X-Frame-Options": "DENY",
}


class Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class PanelApp:
    def __init__(self, core: Core, cfg: PanelSection, officers: Callable[[], dict[str, Officer]],
                 clock: Callable[[], float]) -> None:
        self.core = core
        self.cfg = cfg
        self.officers = officers
        self.desk = Desk(cfg.idle_minutes * 60, clock)
        self.throttle = Throttle(cfg.max_failures, cfg.lockout_s, clock)
        self.allow = [ipaddress.ip_network(n, strict=False) for n in cfg.allow_from]
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(default=True))
        self.app = Starlette(exception_handlers={Refused: self._refused}, routes=[
            Route("/", self.index, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/act", self.act, methods=["POST"]),
            Route("/status.json", self.status, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            self._guard(request)
        except Refused as exc:
            response: Response = self._page("refused.html", {"text": exc.text},
                                            status=exc.status)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                       *((k.lower().encode(), v.encode())
                                         for k, v in _HEADERS.items())]
            await send(message)
        await self.app(scope, receive, send_with_headers)

    async def _refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return self._page("refused.html", {"text": exc.text}, status=exc.status)

    # ----------------------------------------------------------------- checks

    def _guard(self, request: Request) -> None:
        client = request.client.host if request.client else ""
        if self.allow:
            try:
                addr = ipaddress.ip_address(client)
            except ValueError:
                addr = None
            if addr is None or not any(addr in net for net in self.allow):
                log.warning("panel: refused a request from %s (not in panel.allow_from)",
                            client)
                raise Refused(403, "这台电脑不在本窗口的允许名单中（panel.allow_from）。")
        origin = request.headers.get("origin")
        if request.method == "POST" and origin is not None:
            host = request.headers.get("host", "")
            if origin not in (f"http://{host}", f"https://{host}"):
                raise Refused(403, "请求来自其他网站，已拒绝。请直接在本页面操作。")

    async def _form(self, request: Request) -> dict[str, list[str]]:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise Refused(413, "提交的内容过长。")
        try:
            return parse_body(bytes(body))
        except ParseError as exc:
            raise Refused(400, f"提交的内容无法读取：{exc}") from None

    def _session(self, request: Request) -> Session | None:
        session = self.desk.get(request.cookies.get(COOKIE))
        if session is not None and self.core.state.officer != session.badge:
            # Another officer signed in at the counter (the workstation link, or this
            # panel's sign-out went through elsewhere): this session acts for nobody now.
            log.info("panel: session of %s ended: the counter's officer is now %r",
                     session.badge, self.core.state.officer)
            self.desk.close(session.token)
            return None
        return session

    # ----------------------------------------------------------------- pages

    def _page(self, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
        html = self.templates.get_template(name).render(**ctx)
        response = HTMLResponse(html, status_code=status)
        for k, v in _HEADERS.items():
            response.headers[k] = v
        return response

    def _login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
        holder = self.desk.current()
        response = self._page("login.html", {
            "csrf": token, "error": error, "window": self.core.config.window.number,
            "station": self.core.config.window.station,
            "holder": f"{holder.name}（{holder.badge}）" if holder else ""}, status)
        response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="strict")
        return response

    async def index(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return self._login_page(request)
        catalogue = catalogue_of(self.core).current()
        ctx = page.context(self.core, catalogue, self.officers(), session.badge)
        flash, session.flash = session.flash, []
        return self._page("panel.html", {**ctx, "session": session, "flash": flash})

    async def status(self, request: Request) -> Response:
        if self._session(request) is None:
            return JSONResponse({"signed_in": False}, status_code=401)
        return JSONResponse({"signed_in": True,
                             **page.state(self.core, catalogue_of(self.core).current())})

    # ----------------------------------------------------------------- sign-in

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not secrets.compare_digest(pre, one(form, "csrf")):
            return self._login_page(request, "页面已过期，请重新输入警号和PIN。", 403)
        client = request.client.host if request.client else "?"
        badge, pin = one(form, "badge").strip(), one(form, "pin").strip()
        keys = [f"badge:{badge[:20]}", f"client:{client}"]
        if (wait := self.throttle.wait(keys)) > 0:
            return self._login_page(
                request, f"PIN错误次数过多，已暂停登录，请{math.ceil(wait / 60)}分钟后再试。", 429)
        officer = self.officers().get(badge)
        # One answer for every wrong pair, so the page does not say which badges exist.
        ok = (officer is not None and officer.pin is not None and PIN_RE.fullmatch(pin)
              and await run_in_threadpool(officer.pin.matches, pin))
        if not ok or officer is None:
            self.throttle.failed(keys)
            log.warning("panel: wrong badge or PIN for badge %r from %s", badge[:20], client)
            return self._login_page(
                request, f"警号或PIN不正确。连续输错{self.cfg.max_failures}次将暂停登录"
                f"{math.ceil(self.cfg.lockout_s / 60)}分钟。", 401)
        try:
            session = self.desk.open(officer.badge, officer.name)
        except Busy as exc:
            return self._login_page(
                request, f"{exc.session.name}（{exc.session.badge}）正在本窗口使用操作台。"
                "请其先退出，或等待其会话超时后再登录。", 409)
        self.throttle.succeeded(keys)
        if self.core.state.officer != officer.badge:
            reply, outcome = await run_in_threadpool(
                handle_message, self.core, {"op": "sign_in", "badge": officer.badge})
            if not reply["ok"]:
                self.desk.close(session.token)
                return self._login_page(request, refused_text(reply, outcome), 409)
        log.info("panel: officer %s signed in", officer.badge)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict")
        response.delete_cookie(PRE_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        session = self._checked(request, await self._form(request))
        if session is None:
            return RedirectResponse("/", status_code=303)
        reply, outcome = await run_in_threadpool(handle_message, self.core, {"op": "sign_out"})
        if not reply["ok"]:  # a case is still open: stay signed in and say why
            session.flash.append((False, refused_text(reply, outcome)))
            return RedirectResponse("/", status_code=303)
        self.desk.close(session.token)
        log.info("panel: officer %s signed out", session.badge)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ----------------------------------------------------------------- actions

    def _checked(self, request: Request, form: Form) -> Session | None:
        session = self._session(request)
        if session is None:
            return None
        if not secrets.compare_digest(session.csrf, one(form, "csrf")):
            log.warning("panel: a request without the session's CSRF token was refused")
            raise Refused(403, "请求缺少本页面的安全令牌（CSRF），未执行。请刷新页面后重新操作。")
        return session

    async def act(self, request: Request) -> Response:
        form = await self._form(request)
        session = self._checked(request, form)
        if session is None:
            return self._login_page(request, "请先登录（会话已结束）。", 401)
        try:
            msg = to_message(form)
        except ParseError as exc:
            session.flash.append((False, f"未执行：{exc}"))
            return RedirectResponse("/", status_code=303)
        reply, outcome = await run_in_threadpool(handle_message, self.core, msg)
        session.flash.append((True, done_text(msg, self.core)) if reply["ok"]
                             else (False, refused_text(reply, outcome)))
        return RedirectResponse("/", status_code=303)
