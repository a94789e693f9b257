"""Received email, parsed into what a message records (spec 1A). Pure functions, no database.

Tolerant by design: the SMTP listener has already accepted the message, so a broken header or
MIME part degrades to what could be read (a raw header, an undecoded payload) and never raises.
Every string is cleaned for storage: raw 8-bit headers are read as UTF-8, and NUL characters
(which PostgreSQL refuses in text and JSON) are removed.
"""

from __future__ import annotations

import codecs
import html
import mimetypes
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from functools import partial
from typing import Any, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

#: Column sizes (db/models): longer values could not be stored on PostgreSQL.
MAX_HEADER_ID = 998
MAX_ADDRESS, MAX_DOMAIN, MAX_FILENAME = 320, 255, 255
#: A References header can list hundreds of ids; the newest ones are the useful ones.
MAX_REFERENCES = 100
#: Deeper MIME nesting than this is treated as opaque data (a guard against crafted mail).
MAX_DEPTH = 20

#: ``<id>``, or a bare ``local@domain`` (a common mistake of mail software).
_MESSAGE_ID = re.compile(r"<\s*([^<>\s]+)\s*>|([^\s<>,;]+@[^\s<>,;]+)")
_IMG = re.compile(r"<img\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
_SRC = re.compile(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)

Participant = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedFile:
    filename: str
    content: bytes
    #: The part's ``Content-Type`` (``image/png``); used when the filename says nothing.
    content_type: str
    #: ``Content-ID`` without chevrons, for ``cid:`` links from the HTML body.
    content_id: str | None = None


@dataclass(slots=True)
class ParsedEmail:
    subject: str | None = None
    from_field: Participant | None = None
    to_fields: list[Participant] = field(default_factory=list)
    cc_fields: list[Participant] = field(default_factory=list)
    reply_to_fields: list[Participant] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    #: The ``Date`` header as Unix seconds, when it could be read.
    date: int | None = None
    html: str | None = None
    text: str | None = None
    files: list[ParsedFile] = field(default_factory=list)


def parse_email(raw: bytes) -> ParsedEmail:
    """Everything readable in ``raw``; never raises."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:  # the parser is lenient; this is the last resort: the bytes as text
        return ParsedEmail(text=clean(raw.decode("utf-8", "replace")))
    parsed = ParsedEmail(
        subject=_safe(lambda: _header(message, "Subject"), None),
        from_field=next(iter(_addresses(message, "From")), None),
        to_fields=_addresses(message, "To"),
        cc_fields=_addresses(message, "Cc"),
        reply_to_fields=_addresses(message, "Reply-To"),
        message_id=_safe(lambda: _message_id(_header(message, "Message-ID")), None),
        in_reply_to=_safe(lambda: message_ids(_header(message, "In-Reply-To")), []),
        references=_safe(lambda: message_ids(_header(message, "References")), []),
        date=_safe(lambda: _date(message), None),
    )
    _collect_parts(message, parsed)
    return parsed


def _safe(read: Callable[[], T], default: T) -> T:
    """Python's header classes raise on some malformed values: those read as ``default``."""
    try:
        return read()
    except Exception:
        return default


def clean(value: str) -> str:
    """Storable text: surrogate-escaped raw bytes read as UTF-8, NUL characters removed."""
    try:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "")


def _header(message: Message, name: str) -> str | None:
    try:
        value = message[name]
        text = None if value is None else str(value)
    except Exception:
        text = _raw_header(message, name)
    if text is None:
        return None
    text = clean(" ".join(text.split()))
    return text or None


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _addresses(message: Message, name: str) -> list[Participant]:
    try:
        header: Any = message[name]
        if header is None:
            return []
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        raw = _raw_header(message, name)
        pairs = getaddresses([raw]) if raw else []
    found = [participant(display, address) for display, address in pairs]
    return [p for p in found if p is not None]


def participant(display_name: str | None, address: str) -> Participant | None:
    """``{"name", "address"}``, or ``None`` when ``address`` is no storable email address."""
    address = clean(address).strip()
    local, _, domain = address.rpartition("@")
    if not local or not domain or len(address) > MAX_ADDRESS or len(domain) > MAX_DOMAIN:
        return None
    return {"name": clean(display_name or "").strip() or None, "address": address}


def _message_id(value: str | None) -> str | None:
    """The id in chevrons, as Missive shows ``email_message_id`` (spec 1A)."""
    found = message_ids(value)
    return found[0] if found else None


def message_ids(value: str | None) -> list[str]:
    """``<a@b> <c@d>`` -> ``["<a@b>", "<c@d>"]``; bare ids (a common mistake) get chevrons."""
    if not value:
        return []
    found = [angled or bare for angled, bare in _MESSAGE_ID.findall(value)]
    ids = [f"<{v}>" for v in dict.fromkeys(found) if len(v) + 2 <= MAX_HEADER_ID]
    return ids[-MAX_REFERENCES:]


def _date(message: Message) -> int | None:
    header = message["Date"]
    moment = getattr(header, "datetime", None)
    if moment is None:
        return None
    if moment.tzinfo is None:  # "-0000": the time is UTC, the zone unknown (RFC 5322 3.3)
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# Body and files.


@dataclass(frozen=True, slots=True)
class _Leaf:
    part: Message
    in_alternative: bool


def _leaves(part: Message, *, in_alternative: bool = False, depth: int = 0) -> Iterator[_Leaf]:
    payload = part.get_payload()
    if part.get_content_maintype() == "multipart" and isinstance(payload, list):
        if depth >= MAX_DEPTH:
            return
        alternative = part.get_content_subtype() == "alternative"
        for sub in payload:
            if isinstance(sub, Message):
                yield from _leaves(sub, in_alternative=alternative, depth=depth + 1)
        return
    yield _Leaf(part, in_alternative)


def _collect_parts(message: Message, parsed: ParsedEmail) -> None:
    """The first HTML and first plain-text parts are the body; every other part is a file,
    except the other versions of the body in a ``multipart/alternative``."""
    no_leaves: list[_Leaf] = []
    for leaf in _safe(lambda: list(_leaves(message)), no_leaves):
        part = leaf.part
        kind = _safe(part.get_content_type, "application/octet-stream")
        if kind in ("text/html", "text/plain") and not _is_attachment(part):
            text = decode_text(part)
            if kind == "text/html" and parsed.html is None:
                parsed.html = text
                continue
            if kind == "text/plain" and parsed.text is None:
                parsed.text = text
                continue
            if leaf.in_alternative:
                continue
        if kind.startswith("multipart/"):  # a multipart without a usable boundary: keep the text
            if parsed.text is None:
                parsed.text = decode_text(part)
            continue
        stored = _safe(partial(_file, part, kind), None)
        if stored is not None:
            parsed.files.append(stored)


def _is_attachment(part: Message) -> bool:
    return _safe(lambda: part.get_content_disposition() == "attachment", False) or bool(
        _safe(part.get_filename, None)
    )


def decode_text(part: Message) -> str:
    """A text part's content in its declared charset, with ``\n`` line ends (the wire's CRLF is
    transport). Unknown or missing charsets read as UTF-8 (then Windows-1252); undecodable
    bytes become U+FFFD."""
    return _decode_payload(part).replace("\r\n", "\n")


def _decode_payload(part: Message) -> str:
    payload = _safe(lambda: part.get_payload(decode=True), None)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    charset = _safe(part.get_content_charset, None)
    try:
        known = codecs.lookup(charset).name if charset else None
    except LookupError:
        known = None
    if known is None or known == "ascii":
        try:
            return clean(payload.decode("utf-8"))
        except UnicodeDecodeError:
            return clean(payload.decode("cp1252", "replace"))
    return clean(payload.decode(known, "replace"))


def _file(part: Message, kind: str) -> ParsedFile:
    if kind == "message/rfc822":
        content = _message_bytes(part.get_payload(0))
    else:
        decoded = part.get_payload(decode=True)
        content = decoded if isinstance(decoded, bytes) else b""
    content_id = _message_id(_header(part, "Content-ID"))
    return ParsedFile(
        filename=_filename(_safe(part.get_filename, None), kind, inline=content_id is not None),
        content=content,
        content_type=kind,
        content_id=content_id[1:-1] if content_id else None,
    )


def _message_bytes(inner: object) -> bytes:
    if not isinstance(inner, Message):
        return str(inner).encode("utf-8", "surrogateescape")
    try:
        return inner.as_bytes()
    except Exception:  # re-folding a broken header failed: write the headers as they came
        return inner.as_bytes(policy=policy.compat32)


def _filename(given: str | None, kind: str, *, inline: bool) -> str:
    """The file's own name without any path; a generic name with the type's extension if none."""
    name = clean(given or "")
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name:
        stem = "message" if kind == "message/rfc822" else "inline-image" if inline else "attachment"
        extension = ".eml" if kind == "message/rfc822" else mimetypes.guess_extension(kind) or ""
        name = stem + extension
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension[:32] if dot else ""
        name = (stem or name)[: MAX_FILENAME - len(keep) - 1] + (f".{keep}" if keep else "")
    return name


def text_to_html(text: str) -> str:
    """A plain-text body as Missive shows one: escaped, lines joined with ``<br>``. Trailing
    blank lines (SMTP transport adds one) are dropped."""
    lines = text.rstrip().splitlines()
    return "<div>" + "<br>".join(html.escape(line) for line in lines) + "</div>"


def referenced_content_ids(body: str) -> set[str]:
    """The ``cid:`` ids (lower case) that ``<img src>`` attributes of ``body`` point to."""
    return {cid for tag in _IMG.finditer(body) if (cid := _cid_of(tag.group(0))) is not None}


def link_inline_images(body: str, attachment_ids: dict[str, str]) -> str:
    """``<img src="cid:x">`` -> ``<img data-missive-attachment-id="<id>">`` with no ``src``
    (spec 1A). ``attachment_ids`` maps lower-case Content-IDs to attachment ids; an image whose
    part is missing keeps its ``src``."""

    def rewrite(tag_match: re.Match[str]) -> str:
        tag = tag_match.group(0)
        src = _SRC.search(tag)
        cid = _cid_of(tag)
        if src is None or cid is None or cid not in attachment_ids:
            return tag
        linked = f' data-missive-attachment-id="{attachment_ids[cid]}"'
        return tag[: src.start()] + linked + tag[src.end() :]

    return _IMG.sub(rewrite, body)


def _cid_of(tag: str) -> str | None:
    src = _SRC.search(tag)
    if src is None:
        return None
    value = html.unescape(next(g for g in src.groups() if g is not None)).strip()
    if value[:4].lower() != "cid:":
        return None
    # RFC 2392: a cid URL is the Content-ID percent-encoded, without chevrons.
    return unquote(value[4:]).strip().strip("<>").lower() or None
