"""Where webhooks may go: services/hooks/webhook_urls.py, with an injected resolver (no real DNS)
except for address literals, which never reach the resolver."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any

import pytest

from missive_server.errors import BadRequest
from missive_server.services.hooks.webhook_urls import (
    UnresolvableWebhookHost,
    UnsafeWebhookUrl,
    WebhookUrlPolicy,
    check_webhook_url,
    safe_addresses,
)
from missive_server.settings import Settings

ALLOW = "set MISSIVE_WEBHOOK_ALLOW_PRIVATE to allow it"


class FakeDns:
    """``getaddrinfo`` over a fixed table; records every lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, *_: Any, **__: Any) -> Sequence[tuple[Any, ...]]:
        self.lookups.append((host, port))
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.table[host]
        ]


def no_dns(*_: Any, **__: Any) -> Sequence[tuple[Any, ...]]:
    raise AssertionError("address literals must not be looked up")


def check(
    url: str,
    dns: Any = no_dns,
    *,
    allow: Sequence[str] = (),
    loopback: bool = False,
) -> None:
    check_webhook_url(url, allow_private=allow, allow_loopback=loopback, resolve=dns)


def refused(url: str, dns: Any = no_dns, **options: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        check(url, dns, **options)
    return caught.value.message


def test_a_public_host_passes_and_is_looked_up_with_the_urls_port() -> None:
    dns = FakeDns(
        {"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}
    )
    check("https://hooks.example.com/missive?token=x", dns)
    check("http://HOOKS.example.com.:8443/", dns)
    assert dns.lookups == [("hooks.example.com", 443), ("hooks.example.com", 8443)]


def test_safe_addresses_returns_the_checked_addresses_for_pinning() -> None:
    dns = FakeDns({"hooks.example.com": ["93.184.215.14", "93.184.215.14"]})
    assert safe_addresses(
        "https://hooks.example.com", allow_private=(), allow_loopback=False, resolve=dns
    ) == [ipaddress.ip_address("93.184.215.14")]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.com/", "'url' must be an http:// or https:// URL"),
        ("hooks.example.com/path", "'url' must be an http:// or https:// URL"),
        ("file:///etc/passwd", "'url' must be an http:// or https:// URL"),
        ("https:///path", "'url' must include a host"),
        ("https://hooks.example.com:99999/", "'url' is not a valid URL"),
        ("https://[::1/", "'url' is not a valid URL"),
        (
            "https://user:pass@hooks.example.com/",
            "'url' must not contain credentials (user:password@); receivers authenticate "
            "webhooks by their signature",
        ),
        ("https://hooks.example.com/" + "a" * 2048, "'url' must be at most 2048 characters"),
    ],
)
def test_malformed_urls_are_refused_naming_the_field(url: str, message: str) -> None:
    with pytest.raises(UnsafeWebhookUrl) as caught:
        check(url)
    assert caught.value.message == message
    assert caught.value.status_code == 400


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(BadRequest, match=r"^'hooks\.url' must include a host$"):
        check_webhook_url(
            "http://", allow_private=(), allow_loopback=False, resolve=no_dns, field="hooks.url"
        )


@pytest.mark.parametrize(
    ("host", "what"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("[::1]", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("[::]", "an unspecified address"),
        ("10.0.0.5", "a private address"),
        ("172.16.4.2", "a private address"),
        ("192.168.1.1", "a private address"),
        ("[fd12:3456::1]", "a private address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("169.254.1.1", "a link-local address"),
        ("[fe80::1]", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("[fd00:ec2::254]", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("[ff02::1]", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "a reserved address"),
        ("[2001:db8::1]", "a reserved address"),
    ],
)
def test_unsafe_address_literals_are_refused_without_a_lookup(host: str, what: str) -> None:
    address = host.strip("[]")
    assert refused(f"http://{host}:8080/hook") == f"'url' is {what} ({address}); {ALLOW}"


@pytest.mark.parametrize(
    ("host", "shown", "what"),
    [
        # inet_aton forms that getaddrinfo would turn into loopback or metadata addresses.
        ("2130706433", "127.0.0.1", "a loopback address"),
        ("0x7f000001", "127.0.0.1", "a loopback address"),
        ("127.1", "127.0.0.1", "a loopback address"),
        ("0251.0376.0251.0376", "169.254.169.254", "a cloud metadata address"),
        # IPv6 forms that reach an IPv4 address: mapped, 6to4, NAT64.
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1, i.e. 127.0.0.1", "a loopback address"),
        ("[::ffff:a00:5]", "::ffff:a00:5, i.e. 10.0.0.5", "a private address"),
        (
            "[::ffff:169.254.169.254]",
            "::ffff:a9fe:a9fe, i.e. 169.254.169.254",
            "a cloud metadata address",
        ),
        ("[2002:a00:5::]", "2002:a00:5::, i.e. 10.0.0.5", "a private address"),
        ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1, i.e. 127.0.0.1", "a loopback address"),
    ],
)
def test_disguised_addresses_are_seen_through(host: str, shown: str, what: str) -> None:
    assert refused(f"http://{host}/") == f"'url' is {what} ({shown}); {ALLOW}"


def test_real_getaddrinfo_normalises_loopback_literals() -> None:
    """The default resolver (no network: these are literals) agrees with our own parsing."""
    for url in ("http://127.0.0.1/", "http://[::1]/", "http://0.0.0.0/", "http://2130706433/"):
        with pytest.raises(UnsafeWebhookUrl):
            check_webhook_url(url, allow_private=(), allow_loopback=False)
    assert socket.getaddrinfo("2130706433", 80)[0][4][0] == "127.0.0.1"


def test_a_host_resolving_to_a_private_address_is_refused_naming_host_and_address() -> None:
    dns = FakeDns({"intranet.example.com": ["10.0.0.5"]})
    assert refused("https://intranet.example.com/", dns) == (
        f"'url' host 'intranet.example.com' resolves to a private address (10.0.0.5); {ALLOW}"
    )


def test_one_unsafe_address_among_public_ones_is_enough_to_refuse() -> None:
    dns = FakeDns({"rebind.example.com": ["93.184.215.14", "::ffff:169.254.169.254"]})
    assert refused("https://rebind.example.com/", dns) == (
        "'url' host 'rebind.example.com' resolves to a cloud metadata address "
        f"(::ffff:a9fe:a9fe, i.e. 169.254.169.254); {ALLOW}"
    )


def test_link_local_ipv6_results_with_a_zone_are_refused() -> None:
    dns = FakeDns({"printer.example.com": ["fe80::1%eth0"]})
    assert "a link-local address (fe80::1)" in refused("http://printer.example.com/", dns)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "api.localhost",
        "metadata.google.internal",
        "metadata",
        "metadata.goog",
        "db.internal",
        "nas.local",
        "router.home.arpa",
    ],
)
def test_local_names_are_refused_before_any_lookup(host: str) -> None:
    assert refused(f"http://{host}/") == f"'url' host '{host}' is a local name; {ALLOW}"


def test_an_unresolvable_host_is_a_400_naming_it() -> None:
    with pytest.raises(UnresolvableWebhookHost) as caught:
        check("https://nowhere.example.com/", FakeDns({}))
    assert caught.value.message == "'url' host 'nowhere.example.com' does not resolve"
    assert caught.value.status_code == 400


def test_the_resolvers_reason_is_kept_beside_the_message() -> None:
    with pytest.raises(UnresolvableWebhookHost) as caught:
        check("https://nowhere.example.com/", FakeDns({}))
    assert caught.value.reason == "[Errno -2] Name or service not known"

    def empty(*_: Any, **__: Any) -> Sequence[tuple[Any, ...]]:
        return []

    with pytest.raises(UnresolvableWebhookHost) as caught:
        check("https://nowhere.example.com/", empty)
    assert caught.value.reason == "no address found"


def test_emulator_subscriptions_accept_unresolvable_hosts_only() -> None:
    dns = FakeDns({"intranet.example.com": ["10.0.0.5"], "hooks.example.com": ["93.184.215.14"]})
    emulator = WebhookUrlPolicy.from_settings(Settings(emulator=True), resolve=dns)
    server = WebhookUrlPolicy.from_settings(Settings(), resolve=dns)
    assert (emulator.allow_unresolvable, server.allow_unresolvable) == (True, False)

    emulator.check_subscription("https://nowhere.example.com/hook")
    emulator.check_subscription("https://hooks.example.com/hook")
    with pytest.raises(UnresolvableWebhookHost):
        server.check_subscription("https://nowhere.example.com/hook")
    # Deliveries use ``check``: the host must resolve by then, in either mode.
    with pytest.raises(UnresolvableWebhookHost):
        emulator.check("https://nowhere.example.com/hook")
    for unsafe in (
        "https://intranet.example.com/",
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://172.16.0.1/",
        "http://printer.local/",
    ):
        with pytest.raises(UnsafeWebhookUrl):
            emulator.check_subscription(unsafe)


def test_a_host_the_idna_codec_rejects_does_not_resolve() -> None:
    def idna_error(*_: Any, **__: Any) -> Sequence[tuple[Any, ...]]:
        raise UnicodeError("label too long")

    assert refused(f"https://{'a' * 64}.example.com/", idna_error).endswith("does not resolve")


def test_allowed_networks_and_names() -> None:
    dns = FakeDns(
        {
            "intranet.example.com": ["10.0.0.5"],
            "ci.corp.example": ["192.168.7.7"],
            "hooks.lan": ["192.168.1.20"],
        }
    )
    allow = ["10.0.0.0/8", "*.corp.example", "hooks.lan", "fd00::/8", "169.254.169.254/32"]
    check("https://intranet.example.com/", dns, allow=allow)
    check("http://10.1.2.3/", allow=allow)
    check("http://[::ffff:10.1.2.3]/", allow=allow)
    check("http://[fd00::1]/", allow=allow)
    check("http://ci.corp.example/", dns, allow=allow)
    check("http://hooks.lan/", dns, allow=allow)
    check("http://169.254.169.254/", allow=allow)
    # Allowing one network or name allows nothing else.
    assert refused(
        "http://elsewhere.example/",
        FakeDns({"elsewhere.example": ["172.16.0.1"]}),
        allow=allow,
    ).endswith(f"a private address (172.16.0.1); {ALLOW}")
    assert "a private address (192.168.1.20)" in refused(
        "http://other.lan/", FakeDns({"other.lan": ["192.168.1.20"]}), allow=allow
    )
    assert refused(
        "http://corp.example/", FakeDns({"corp.example": ["10.9.9.9"]}), allow=["*.corp.example"]
    ).endswith("(10.9.9.9); " + ALLOW)


def test_an_allowed_local_name_may_resolve_to_any_address() -> None:
    dns = FakeDns({"receiver.internal": ["10.20.30.40"]})
    check("http://receiver.internal/", dns, allow=["receiver.internal"])
    assert "is a local name" in refused("http://receiver.internal/", dns)


def test_an_allowed_name_still_has_to_resolve() -> None:
    assert refused("http://hooks.lan/", FakeDns({}), allow=["hooks.lan"]).endswith(
        "does not resolve"
    )


def test_emulator_mode_allows_loopback_only() -> None:
    dns = FakeDns({"localhost": ["127.0.0.1", "::1"], "receiver.localhost": ["127.0.0.1"]})
    check("http://127.0.0.1:9000/hook", loopback=True)
    check("http://[::1]:9000/hook", loopback=True)
    check("http://localhost:9000/hook", dns, loopback=True)
    check("http://receiver.localhost/", dns, loopback=True)
    assert refused("http://10.0.0.5/", loopback=True).startswith("'url' is a private address")
    assert refused("http://0.0.0.0/", loopback=True).startswith("'url' is an unspecified")
    # A "localhost" that resolves elsewhere is judged by its addresses.
    rebound = FakeDns({"localhost": ["192.168.0.9"]})
    assert "resolves to a private address" in refused("http://localhost/", rebound, loopback=True)


def test_policy_from_settings_uses_the_allow_list_and_emulator_mode() -> None:
    policy = WebhookUrlPolicy.from_settings(
        Settings(emulator=True, webhook_allow_private=["10.0.0.0/8"]), resolve=no_dns
    )
    assert policy.allow_private == ("10.0.0.0/8",)
    assert policy.allow_loopback is True
    policy.check("http://127.0.0.1/")
    policy.check("http://10.0.0.1/")
    with pytest.raises(UnsafeWebhookUrl, match=r"^'hooks\.url' is a private address"):
        policy.check("http://192.168.0.1/", field="hooks.url")
    assert WebhookUrlPolicy.from_settings(Settings()).allow_loopback is False


def test_the_allow_private_setting_is_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISSIVE_WEBHOOK_ALLOW_PRIVATE", " 10.0.0.0/8, Hooks.LAN. ,*.corp,, ::1 ")
    assert Settings().webhook_allow_private == ["10.0.0.0/8", "hooks.lan", "*.corp", "::1"]
    monkeypatch.setenv("MISSIVE_WEBHOOK_ALLOW_PRIVATE", "")
    assert Settings().webhook_allow_private == []
    monkeypatch.setenv("MISSIVE_WEBHOOK_ALLOW_PRIVATE", "10.0.0.0/8,not a host")
    with pytest.raises(ValueError, match="entry 'not a host' is neither a CIDR nor a host name"):
        Settings()
