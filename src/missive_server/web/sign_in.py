"""Signing in: email and password (Argon2id), "forgot password" links mailed through the outbox,
and, in the emulator (or with ``MISSIVE_WEB_TOKEN_SIGN_IN``), an API token or a seeded user
picked from a list. Every form carries a CSRF token from a double-submit cookie; failed
password sign-ins are throttled per address and per client (``web/throttle.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from missive_server.auth import Principal
from missive_server.services.directory import passwords, tokens
from missive_server.services.directory.principals import principal_for_user
from missive_server.services.web import inbox as web_inbox
from missive_server.settings import Settings
from missive_server.web.routes import db_session, read_form, render_page
from missive_server.web.session import (
    COOKIE,
    FORM_COOKIE,
    FORM_MAX_AGE,
    MAX_AGE,
    form_csrf_ok,
    signer_of,
)
from missive_server.web.throttle import SignInThrottle

router = APIRouter(include_in_schema=False)
WRONG = "Wrong email or password."


def signed_out_page(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A signed-out page with a form: its CSRF token, and the cookie that carries it."""
    settings: Settings = request.app.state.settings
    token, cookie = signer_of(request).form_token(request.cookies.get(FORM_COOKIE))
    response = render_page(request, template, context | {"csrf": token}, status)
    response.set_cookie(FORM_COOKIE, cookie, max_age=FORM_MAX_AGE, httponly=True,
                        samesite="lax", secure=_secure(settings))  # fmt: skip
    return response


def _secure(settings: Settings) -> bool:
    return settings.public_base.startswith("https://")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _sign_in(request, notice=request.query_params.get("notice"))


def _sign_in(
    request: Request, *, error: str | None = None, notice: str | None = None,
    email: str = "", status: int = 200,
) -> Response:  # fmt: skip
    settings: Settings = request.app.state.settings
    users = []
    if settings.emulator:
        with db_session(request) as session:
            users = web_inbox.emulator_users(session)
    context = {"error": error, "notice": notice, "users": users, "email": email,
               "token_sign_in": settings.token_sign_in}  # fmt: skip
    return signed_out_page(request, "sign_in.html", context, status)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await read_form(request)
    if not form_csrf_ok(request, form.get("csrf")):
        return _sign_in(request, error="This form expired: please try again.", status=403)
    if settings.emulator and form.get("user_id"):
        with db_session(request) as session:
            return _signed_in(request, principal_for_user(session, form["user_id"]))
    if settings.token_sign_in and form.get("token", "").strip():
        with db_session(request) as session:
            found = tokens.authenticate(session, form["token"].strip())
        if found is None:
            return _sign_in(request, error="That token is invalid or has been revoked.", status=401)
        return _signed_in(request, found)
    return await _password_sign_in(request, form.get("email", ""), form.get("password", ""))


async def _password_sign_in(request: Request, email: str, password: str) -> Response:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    email = email.strip().lower()[:320]
    wait = await throttle.wait_seconds(email, client_of(request))
    if wait:
        minutes = (wait + 59) // 60
        message = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes > 1)}."
        response = _sign_in(request, error=message, email=email, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    # Argon2 costs tens of milliseconds of CPU: off the event loop.
    principal = await run_in_threadpool(_check_password, request, email, password)
    if principal is None:
        await throttle.failed(email, client_of(request))
        return _sign_in(request, error=WRONG, email=email, status=401)
    await throttle.succeeded(email)
    return _signed_in(request, principal)


def _check_password(request: Request, email: str, password: str) -> Principal | None:
    with db_session(request) as session:
        found = passwords.sign_in_with_password(session, email=email, password=password)
        session.commit()  # a rehash with newer parameters, when argon2 asked for one
        return found


def _signed_in(request: Request, principal: Principal | None) -> Response:
    if principal is None:
        return _sign_in(request, error=WRONG, status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, signer_of(request).dump(principal.user_id), max_age=MAX_AGE,
                        httponly=True, samesite="lax",
                        secure=_secure(request.app.state.settings))  # fmt: skip
    response.delete_cookie(FORM_COOKIE)
    return response
