"""The UI's sign-in session: a signed, HttpOnly, SameSite=Lax cookie holding the user id and a
per-session CSRF token. The API token itself is never stored in the cookie nor logged."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "missive_session"
MAX_AGE = 14 * 24 * 3600
#: Signed-out forms (sign-in, forgot and reset password) get their CSRF token from this
#: double-submit cookie: a page from another site can neither read it nor set it.
FORM_COOKIE = "missive_form"
FORM_MAX_AGE = 2 * 3600


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: str
    csrf: str


class SessionSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="missive-web-session")
        self._forms = URLSafeTimedSerializer(secret, salt="missive-web-form")

    def form_token(self, cookie: str | None) -> tuple[str, str]:
        """The signed-out CSRF token of this browser (kept when its cookie is still valid, so
        two open tabs both work) and the cookie value that carries it."""
        token = self.load_form_token(cookie) or secrets.token_urlsafe(24)
        return token, self._forms.dumps(token)

    def load_form_token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            token = self._forms.loads(cookie, max_age=FORM_MAX_AGE)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    def dump(self, user_id: str) -> str:
        return self._serializer.dumps({"u": user_id, "c": secrets.token_urlsafe(24)})

    def load(self, cookie: str | None) -> WebSession | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return WebSession(user_id=data["u"], csrf=str(data.get("c", "")))


def csrf_ok(session: WebSession | None, presented: str | None) -> bool:
    """The hidden ``csrf`` field of a POST form must match the session's token (reused by the
    actions forms)."""
    return bool(session and presented and hmac.compare_digest(session.csrf, presented))


def form_csrf_ok(request: Request, presented: str | None) -> bool:
    expected = signer_of(request).load_form_token(request.cookies.get(FORM_COOKIE))
    return bool(expected and presented and hmac.compare_digest(expected, presented))


def signer_of(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.web_signer
    return signer
