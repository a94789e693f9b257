"""The signature of outgoing webhooks (spec 3.2), shared by custom channels and rule webhooks.

``X-Hook-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>``, keyed with the
channel's (or rule's) signing secret. Receivers verify over the exact bytes they received, so
callers sign the very bytes they send and never re-serialise in between.
"""

from __future__ import annotations

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
