"""Both signatures of outgoing webhooks (spec 3.2 and Standard Webhooks)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from missive_server.delivery.signing import (
    sign,
    sign_standard,
    standard_key,
    verify,
    verify_standard,
)

# The test vector published with the Standard Webhooks specification and its libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_standard_webhooks_test_vector() -> None:
    signature = sign_standard(
        VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )
    assert signature == VECTOR_SIGNATURE
    assert verify_standard(
        VECTOR_SECRET,
        msg_id=VECTOR_ID,
        timestamp=VECTOR_TIMESTAMP,
        body=VECTOR_BODY,
        signature=f"v1,bm90IGl0 {VECTOR_SIGNATURE}",  # one of several (a secret rotation)
    )


@pytest.mark.parametrize(
    ("msg_id", "timestamp", "body"),
    [
        ("msg_other", VECTOR_TIMESTAMP, VECTOR_BODY),
        (VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY),
        (VECTOR_ID, VECTOR_TIMESTAMP, b'{"test":2432232314}'),
    ],
)
def test_a_standard_signature_covers_the_id_the_timestamp_and_the_exact_bytes(
    msg_id: str, timestamp: int, body: bytes
) -> None:
    assert not verify_standard(
        VECTOR_SECRET, msg_id=msg_id, timestamp=timestamp, body=body, signature=VECTOR_SIGNATURE
    )


def test_a_secret_without_the_whsec_prefix_is_keyed_by_its_utf8_bytes() -> None:
    secret, body = "plain-s3cret-ÿ", '{"a":"é"}'.encode()
    expected = hmac.new(secret.encode("utf-8"), b"d1.42." + body, hashlib.sha256).digest()
    signature = sign_standard(secret, msg_id="d1", timestamp=42, body=body)
    assert signature == "v1," + base64.b64encode(expected).decode()
    assert verify_standard(secret, msg_id="d1", timestamp=42, body=body, signature=signature)
    assert not verify_standard("other", msg_id="d1", timestamp=42, body=body, signature=signature)


def test_whsec_secrets_that_are_not_base64_are_used_as_they_are() -> None:
    assert standard_key("whsec_not base64!") == b"whsec_not base64!"
    assert standard_key("whsec_" + base64.b64encode(b"\x00key").decode()) == b"\x00key"


def test_the_hook_signature_is_lowercase_hex_with_its_prefix() -> None:
    body = b'{"x":1}'
    signature = sign("s", body)
    assert signature == "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert verify("s", body, signature)
    assert verify("s", body, signature.removeprefix("sha256="))
    assert not verify("s", body + b" ", signature)
