"""Connect to the addresses the SSRF check approved, never to a second DNS answer.

``services/hooks/webhook_urls.safe_addresses`` resolves the host once and checks every address;
if the HTTP client resolved the name again, a DNS server answering a public address to the
check and a private one to the connection (DNS rebinding) would get a request into the network.
So the request goes to the checked address itself, while the receiver still sees its own name:
the ``Host`` header is the URL's, and TLS sends it as SNI and verifies the certificate against it
(httpcore's ``sni_hostname`` extension becomes ``server_hostname``), never against the address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from missive_server.delivery.channels import post_once
from missive_server.services.hooks.webhook_urls import IPAddress


def pinned_request(
    url: str, address: IPAddress
) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL with ``address`` as its host, the ``Host`` header and the request extensions."""
    original = httpx.URL(url)
    target = original.copy_with(host=str(address))
    host = {"Host": original.netloc.decode("ascii")}
    extensions: dict[str, Any] = {}
    if original.scheme == "https":
        extensions["sni_hostname"] = original.raw_host.decode("ascii")
    return target, host, extensions


def post_pinned(
    http_client: httpx.Client,
    url: str,
    addresses: Sequence[IPAddress],
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> tuple[int, str]:
    """``post_once`` to the first checked address that accepts a connection (a host's IPv6
    address may be unreachable where its IPv4 one answers), in the resolver's order."""
    if not addresses:
        raise httpx.ConnectError(f"no checked address for {httpx.URL(url).host}")
    refused: httpx.ConnectError | None = None
    for address in addresses:
        target, host, extensions = pinned_request(url, address)
        try:
            return post_once(
                http_client,
                target,
                body=body,
                headers={**headers, **host},
                timeout=timeout,
                extensions=extensions,
            )
        except httpx.ConnectError as error:
            refused = error
    assert refused is not None
    raise refused
