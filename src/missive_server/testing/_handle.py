"""``MissiveServer``: what a test holds. Every helper goes through the server's own
``/_emulator/*`` control plane over HTTP (what any client could do), except ``deliver``, which
runs the due outbox work in-process so a test never has to wait for a poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from missive_server.testing._databases import Seed, Seeded, owner_token, seed_document

Json = dict[str, Any]


class SharedTransport(httpx.BaseTransport):
    """One connection pool for every client the handles of a server give out: building a
    transport loads the CA store (15-120 ms measured), more than a whole fresh database.
    Closing a client leaves it open; ``shutdown`` closes it with the server. No proxies from
    the environment: the server is on loopback."""

    def __init__(self) -> None:
        self._transport = httpx.HTTPTransport(trust_env=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport.handle_request(request)

    def close(self) -> None:
        return None

    def shutdown(self) -> None:
        self._transport.close()


class EmulatorError(Exception):
    """A control-plane request was refused; ``status`` and the server's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Clock:
    """The emulator's clock (``/_emulator/clock``). Moving it runs the work that became due,
    so a draft with ``send_at`` is sent and a follow-up fires before ``advance`` returns."""

    def __init__(self, server: MissiveServer) -> None:
        self._server = server

    def now(self) -> int:
        return int(self._server.control("GET", "/clock")["now"])

    def advance(self, seconds: int) -> int:
        return self._move({"advance": seconds})

    def set(self, timestamp: int) -> int:
        return self._move({"set": timestamp})

    def freeze(self) -> int:
        return self._move({"freeze": True})

    def unfreeze(self) -> int:
        return self._move({"freeze": False})

    def _move(self, body: Json) -> int:
        now = int(self._server.control("POST", "/clock", json=body)["now"])
        self._server.deliver()
        return now


class MissiveServer:
    """A running missive-server. ``url`` is the origin (add ``/v1/...``), ``token`` the seeded
    organization owner's API token, ``ids`` the seeded ids (``ids["conversations"]["key"]``)
    and ``tokens`` every seeded user's token by email."""

    def __init__(
        self,
        url: str,
        seeded: Seeded,
        *,
        deliver: Callable[[], int],
        database_url: str,
        transport: SharedTransport,
    ) -> None:
        self.url = url
        self.database_url = database_url
        self.ids: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, str] = {}
        self.token: str | None = None
        self._adopt(seeded, replace=True)
        self._deliver = deliver
        self._transport = transport
        self._http = self._new_client({})
        self.clock = Clock(self)

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` for ``token``."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, token: str | None = None) -> httpx.Client:
        """An ``httpx.Client`` on ``url`` sending ``token`` (default: the owner's); close it."""
        chosen = token or self.token
        return self._new_client({"Authorization": f"Bearer {chosen}"} if chosen else {})

    def _new_client(self, headers: dict[str, str]) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers=headers, timeout=30, transport=self._transport
        )

    def deliver(self) -> int:
        """Send the mail, webhooks and scheduled drafts due now; how many were attempted."""
        return self._deliver()

    def outbox(self, *, kind: str | None = None, status: str | None = None) -> list[Json]:
        """Mail and channel messages the server sent or captured (after delivering due work),
        newest first, each with its exact bytes in ``raw``."""
        self.deliver()
        params = {"limit": 500, "kind": kind, "status": status}
        return list(self.control("GET", "/outbox", params=_present(params))["outbox"])

    def deliveries(self, *, hook: str | None = None) -> list[Json]:
        """Webhook deliveries of every hook (after delivering due work), newest first, each
        with its attempts, the body sent and its signature."""
        self.deliver()
        params = _present({"limit": 500, "hook": hook})
        return list(self.control("GET", "/deliveries", params=params)["deliveries"])

    def fault(
        self,
        path: str,
        *,
        status: int | None = None,
        latency_ms: int | None = None,
        method: str = "*",
        count: int = 1,
    ) -> Json:
        """Make the next ``count`` requests matching ``method`` and ``path`` (a glob) answer
        ``status`` (429 or 500) and/or wait ``latency_ms`` first."""
        body = _present(
            {
                "path": path,
                "status": status,
                "latency_ms": latency_ms,
                "method": method,
                "count": count,
            }
        )
        fault: Json = self.control("POST", "/faults", json=body)["faults"][0]
        return fault

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def inbound(self, **fields: Any) -> Json:
        """Receive an email as the SMTP listener would: ``from_``, ``to`` (list), ``cc``,
        ``subject``, ``text``, ``html``, ``in_reply_to``, ``references``, ``message_id``, or a
        whole RFC 5322 message as ``raw``. Returns the deliveries (conversation, message)."""
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        return self.control("POST", "/inbound", json=fields)

    def seed(self, document: dict[str, Any]) -> Json:
        """Load a seed document into the running server; its ids and tokens are merged into
        ``ids`` and ``tokens`` (``token`` is kept if already set)."""
        result = self.control("POST", "/seed", json=document)
        self._adopt(_seeded(result, document), replace=False)
        return result

    def reset(self, seed: Seed = None) -> Json:
        """Empty every table, put the clock back and disarm faults; then load ``seed``
        (``"demo"`` or a document). ``ids``, ``tokens`` and ``token`` follow."""
        result = self.control("POST", "/reset", json={"seed": seed})
        seeded = result.get("seeded")
        self._adopt(_seeded(seeded, seed) if seeded else Seeded(), replace=True)
        return result

    def control(self, method: str, path: str, **kwargs: Any) -> Json:
        """One ``/_emulator`` request; raises ``EmulatorError`` unless it succeeds."""
        response = self._http.request(method, "/_emulator" + path, **kwargs)
        if response.status_code >= 400:
            body = response.json() if response.content else {}
            message = body.get("error", {}).get("message", response.text)
            raise EmulatorError(response.status_code, message)
        result: Json = response.json()
        return result

    def close(self) -> None:
        self._http.close()

    def _adopt(self, seeded: Seeded, *, replace: bool) -> None:
        if replace:
            self.ids, self.tokens, self.token = {}, {}, None
        for section, entries in seeded.ids.items():
            self.ids.setdefault(section, {}).update(entries)
        self.tokens.update(seeded.tokens)
        self.token = self.token or seeded.owner_token

    def __repr__(self) -> str:
        return f"<MissiveServer {self.url} database={self.database_url}>"


def _present(values: Json) -> Json:
    return {k: v for k, v in values.items() if v is not None}


_ANY_NOW = 1_700_000_000


def _seeded(result: Json, raw: Seed) -> Seeded:
    tokens = dict(result.get("tokens", {}))
    # Only its users are read here; the demo's times are relative to ``now``, and a document
    # must hold real timestamps (none before 1970), so any present-day ``now`` does.
    document = seed_document(raw, _ANY_NOW)
    return Seeded(
        ids=result.get("ids", {}), tokens=tokens, owner_token=owner_token(document, tokens)
    )
