"""Where webhooks may be sent (issue 5, "Safety"): never to this machine, the private network or
a cloud metadata service, unless the operator allows it. Pure apart from the injected resolver,
so the API checks a hook's URL when it is created and the worker again before every attempt
(DNS may have changed since).

Every address a host resolves to must be safe: one private address among public ones is
refused, since the HTTP client may pick any of them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from missive_server.errors import BadRequest
from missive_server.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``socket.getaddrinfo``'s shape: ``(host, port, ...) -> [(family, type, proto, name, sockaddr)]``.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

URL_MAX = 2048
ALLOW_SETTING = "MISSIVE_WEBHOOK_ALLOW_PRIVATE"

#: Cloud metadata services: AWS/GCP/Azure/OpenStack IMDS, AWS IMDS over IPv6, ECS task
#: metadata, Alibaba Cloud, Azure's wire server (a public address, hence listed by address).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "100.100.100.200",
        "168.63.129.16",
    )
)

_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "private"),
    ("fec0::/10", "private"),
    ("64:ff9b:1::/48", "private"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
_CATEGORIES = tuple((ipaddress.ip_network(n), what) for n, what in _NETWORKS)
#: NAT64 (RFC 6052): the gateway forwards these to the embedded IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

#: Names that only ever mean this machine or the local network (RFC 6761, 6762, 8375; ICANN's
#: 2024 reservation of ``.internal``, which also covers ``metadata.google.internal``).
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "localdomain")
_LOCAL_NAMES = frozenset({"metadata", "metadata.goog"})
#: inet_aton forms (``2130706433``, ``0x7f.1``, ``127.1``): IPv4 literals, never names.
_IPV4_SHORTHAND = re.compile(r"[0-9a-fx.]+")


class UnsafeWebhookUrl(BadRequest):
    """The URL is malformed or points somewhere webhooks may not go: permanent."""


class UnresolvableWebhookHost(BadRequest):
    """The host does not resolve (now): at delivery time, worth retrying. ``reason`` is the
    resolver's own words (``[Errno -2] Name or service not known``), kept out of the 400."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AllowList:
    """``MISSIVE_WEBHOOK_ALLOW_PRIVATE``: networks, exact host names, ``*.domain`` wildcards."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        networks, names, suffixes = [], set(), []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            network = _network(entry)
            if network is not None:
                networks.append(network)
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                names.add(entry)
        return cls(tuple(networks), frozenset(names), tuple(suffixes))

    def allows_name(self, host: str) -> bool:
        return host in self.names or host.endswith(self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def check_webhook_url(
    url: str,
    *,
    allow_private: Sequence[str],
    allow_loopback: bool,
    resolve: Resolver = socket.getaddrinfo,
    field: str = "url",
) -> None:
    """Raise ``UnsafeWebhookUrl`` or ``UnresolvableWebhookHost`` (both ``BadRequest``, 400)
    with a message naming ``field``; return when every address of the host is safe."""
    safe_addresses(
        url,
        allow_private=allow_private,
        allow_loopback=allow_loopback,
        resolve=resolve,
        field=field,
    )


def safe_addresses(
    url: str,
    *,
    allow_private: Sequence[str],
    allow_loopback: bool,
    resolve: Resolver = socket.getaddrinfo,
    field: str = "url",
) -> list[IPAddress]:
    """``check_webhook_url`` that also returns the checked addresses, so a sender can connect
    to exactly those (no second lookup for DNS rebinding to exploit)."""
    host, port = _parse(url, field)
    allowed = AllowList.parse(allow_private)
    if allowed.allows_name(host):
        return _resolve(host, port, resolve, field)
    literal = _literal(host)
    if literal is None:
        _check_name(host, field, allow_loopback=allow_loopback)
    addresses = [literal] if literal is not None else _resolve(host, port, resolve, field)
    for address in addresses:
        found = _problem(address, allowed, allow_loopback=allow_loopback)
        if found is not None:
            problem, reached = found
            shown = str(address) if reached == address else f"{address}, i.e. {reached}"
            where = f"'{field}'" if literal is not None else f"'{field}' host '{host}'"
            verb = "is" if literal is not None else "resolves to"
            raise UnsafeWebhookUrl(
                f"{where} {verb} {problem} ({shown}); set {ALLOW_SETTING} to allow it"
            )
    return addresses


def _parse(url: str, field: str) -> tuple[str, int]:
    if len(url) > URL_MAX:
        raise UnsafeWebhookUrl(f"'{field}' must be at most {URL_MAX} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeWebhookUrl(f"'{field}' is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeWebhookUrl(f"'{field}' must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl(
            f"'{field}' must not contain credentials (user:password@); receivers authenticate "
            "webhooks by their signature"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeWebhookUrl(f"'{field}' must include a host")
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _IPV4_SHORTHAND.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _check_name(host: str, field: str, *, allow_loopback: bool) -> None:
    if allow_loopback and (host == "localhost" or host.endswith(".localhost")):
        return
    local = host in _LOCAL_NAMES or any(
        host == suffix or host.endswith("." + suffix) for suffix in _LOCAL_SUFFIXES
    )
    if local:
        raise UnsafeWebhookUrl(
            f"'{field}' host '{host}' is a local name; set {ALLOW_SETTING} to allow it"
        )


def _resolve(host: str, port: int, resolve: Resolver, field: str) -> list[IPAddress]:
    reason = "no address found"
    try:
        found = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        found, reason = [], str(error) or type(error).__name__
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        # IPv6 link-local results carry a zone (``fe80::1%eth0``).
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableWebhookHost(f"'{field}' host '{host}' does not resolve", reason=reason)
    return addresses


def _problem(
    address: IPAddress, allowed: AllowList, *, allow_loopback: bool
) -> tuple[str, IPAddress] | None:
    """``None`` when webhooks may go to ``address``, else what it is ("a private address") and
    the address that is (the embedded IPv4 address of ``::ffff:10.0.0.1``)."""
    if allowed.allows_address(address):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _problem(embedded, allowed, allow_loopback=allow_loopback)
    if address in _METADATA:
        return "a cloud metadata address", address
    for network, what in _CATEGORIES:
        if address.version == network.version and address in network:
            if what == "loopback" and allow_loopback:
                return None
            return f"{'an' if what[0] in 'aeiou' else 'a'} {what} address", address
    if not address.is_global:
        return "a reserved address", address
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (``::ffff:10.0.0.1``), 6to4
    (``2002:0a00:0001::``) and NAT64 (``64:ff9b::a00:1``) all reach it."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class WebhookUrlPolicy:
    """The settings ``check_webhook_url`` needs, bundled for services and the worker."""

    allow_private: tuple[str, ...] = ()
    allow_loopback: bool = False
    resolve: Resolver = socket.getaddrinfo
    #: Subscribe hosts that do not resolve (yet): emulators run on offline CI runners, where
    #: client test suites create hooks at placeholder hosts and never expect a delivery.
    allow_unresolvable: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings, *, resolve: Resolver = socket.getaddrinfo
    ) -> WebhookUrlPolicy:
        """Emulator mode allows loopback (receivers in a test suite listen on 127.0.0.1) and
        subscriptions to hosts that do not resolve; every other guard stays."""
        return cls(
            tuple(settings.webhook_allow_private),
            allow_loopback=settings.emulator,
            resolve=resolve,
            allow_unresolvable=settings.emulator,
        )

    def check(self, url: str, *, field: str = "url") -> None:
        self.addresses(url, field=field)

    def addresses(self, url: str, *, field: str = "url") -> list[IPAddress]:
        """The checked addresses of ``url``'s host: the only ones a delivery may connect to."""
        return safe_addresses(
            url,
            allow_private=self.allow_private,
            allow_loopback=self.allow_loopback,
            resolve=self.resolve,
            field=field,
        )

    def check_subscription(self, url: str, *, field: str = "url") -> None:
        """``check`` for a new hook: with ``allow_unresolvable`` a host that does not resolve is
        accepted, since there is no address to judge yet; each delivery checks again and fails
        (and is retried) while it still does not resolve."""
        try:
            self.check(url, field=field)
        except UnresolvableWebhookHost:
            if not self.allow_unresolvable:
                raise
