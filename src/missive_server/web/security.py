"""Security headers on every page of the web UI (issue 16, item 6).

Scripts only from our own ``/_static/app.js`` (copy buttons, live updates over ``/events``):
no inline script and no event-handler attribute can run; styles are the one
stylesheet plus ``style`` attributes carrying validated colors; images may come from anywhere
over http(s) (post icons and images are third-party URLs) or from our own ``/_files``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' https: http:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
#: Not pages of the UI: the API and the emulator answer JSON; ``/docs`` (Swagger UI) needs
#: its own inline script; ``/_files`` sets its own headers per file.
NOT_UI = ("/v1/", "/_emulator", "/_files/", "/docs", "/redoc", "/openapi.json")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NOT_UI):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
