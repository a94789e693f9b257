""" "Forgot password": a form that mails a one-time link (outbox kind ``password_reset``, so it is
captured in the outbox without a relay), and the page the link opens. The link's secret travels
in the URL fragment, which browsers never send: it stays out of access logs and Referer headers;
``static/app.js`` copies it into the form (a visible field takes it by hand without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from missive_server.errors import ApiError
from missive_server.services.directory import passwords
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from missive_server.web.routes import db_session, read_form
from missive_server.web.session import form_csrf_ok
from missive_server.web.sign_in import client_of, signed_out_page
from missive_server.web.throttle import SignInThrottle

router = APIRouter(include_in_schema=False)
SENT = (
    "If an account uses this address, a link to choose a new password is on its way. "
    "It works once, within 30 minutes."
)


@router.get("/forgot-password")
async def forgot_page(request: Request) -> Response:
    return signed_out_page(request, "forgot_password.html", {"error": None, "notice": None})


@router.post("/forgot-password")
async def forgot(request: Request) -> Response:
    form = await read_form(request)
    if not form_csrf_ok(request, form.get("csrf")):
        context = {"error": "This form expired: please try again.", "notice": None}
        return signed_out_page(request, "forgot_password.html", context, 403)
    email = form.get("email", "").strip().lower()[:320]
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    # Each request mails someone: limited like failed sign-ins, so the form cannot spam.
    if await throttle.wait_seconds(email, client_of(request)):
        context = {"error": "Too many requests. Try again later.", "notice": None}
        return signed_out_page(request, "forgot_password.html", context, 429)
    await throttle.failed(email, client_of(request))
    settings: Settings = request.app.state.settings
    policy = RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds)
    with db_session(request) as session:
        passwords.request_password_reset(
            session, email=email, now=request.app.state.clock.now(),
            base_url=settings.public_base, policy=policy,
        )  # fmt: skip
        session.commit()
    # The same answer whether or not the address has an account.
    return signed_out_page(request, "forgot_password.html", {"error": None, "notice": SENT})


def _finish(request: Request, form: dict[str, str]) -> None:
    with db_session(request) as session:
        passwords.finish_password_reset(
            session, secret=form.get("secret", "").strip(), password=form.get("password", ""),
            now=request.app.state.clock.now(),
        )  # fmt: skip
        session.commit()


@router.get("/reset-password")
async def reset_page(request: Request) -> Response:
    return signed_out_page(request, "reset_password.html", {"error": None})


@router.post("/reset-password")
async def reset(request: Request) -> Response:
    form = await read_form(request)
    if not form_csrf_ok(request, form.get("csrf")):
        context = {"error": "This form expired: please try again."}
        return signed_out_page(request, "reset_password.html", context, 403)
    if form.get("password", "") != form.get("confirm", ""):
        return signed_out_page(request, "reset_password.html",
                               {"error": "The two passwords differ."}, 400)  # fmt: skip
    try:
        # Argon2 costs tens of milliseconds of CPU: off the event loop.
        await run_in_threadpool(_finish, request, form)
    except ApiError as error:
        return signed_out_page(request, "reset_password.html", {"error": error.message}, 400)
    return RedirectResponse("/sign-in?notice=Password+changed.+Sign+in+with+it.", status_code=303)
