"""The signature of outgoing webhooks (spec 3.2), shared by custom channels and rule webhooks.

``X-Hook-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>``, keyed with the
channel's (or rule's) signing secret. Receivers verify over the exact bytes they received, so
callers sign the very bytes they send and never re-serialise in between.

Rule webhooks also carry the Standard Webhooks headers (standardwebhooks.com): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 signature>``, the HMAC-SHA256 of
``"{id}.{timestamp}.{body}"``, so receivers using its libraries verify out of the box and can
reject replays.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SIGNATURE_HEADER = "X-Hook-Signature"
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value, prefix included (receivers strip it optionally; we always send it)."""
    return _PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Constant-time check of a header value, with or without the ``sha256=`` prefix."""
    expected = sign(secret, body).removeprefix(_PREFIX)
    presented = signature.strip().removeprefix(_PREFIX).lower()
    return hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii", "replace"))


WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
#: Standard Webhooks secrets may carry this prefix; the key is then the base64 remainder.
STANDARD_SECRET_PREFIX = "whsec_"


def standard_key(secret: str) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decoded (the Standard Webhooks convention,
    so a secret made by its tooling works as is), any other secret as its UTF-8 bytes."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(STANDARD_SECRET_PREFIX), validate=True)
        except binascii.Error:
            pass  # not base64 after all: an ordinary secret that happens to start so
    return secret.encode("utf-8")


def sign_standard(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 signature>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_standard(
    secret: str, *, msg_id: str, timestamp: int, body: bytes, signature: str
) -> bool:
    """True when any of the space-separated ``v1,`` signatures of a header value matches
    (Standard Webhooks sends several during a secret rotation)."""
    expected = sign_standard(secret, msg_id=msg_id, timestamp=timestamp, body=body)
    return any(
        hmac.compare_digest(expected.encode("ascii"), part.encode("ascii", "replace"))
        for part in signature.split()
    )
