"""Turning stored content into safe HTML: nh3 for email bodies, markdown-it (HTML disabled) for
posts, escaped text with line breaks, and short times."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "font", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"title", "dir", "lang"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "data-missive-attachment-id"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "font": {"color"},
}
_LINKED = re.compile(r'data-missive-attachment-id="([^"]+)"')
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def sanitize_email(body: str, inline: Mapping[str, str]) -> Markup:
    """``inline`` maps attachment ids (inbound ``cid:`` images) to their ``/_files`` URLs."""

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and value.lower().startswith("cid:"):
            return None
        return value

    clean = nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=rewrite,
    )

    def link(match: re.Match[str]) -> str:
        url = inline.get(match.group(1))
        return f'src="{escape(url)}"' if url else ""

    return Markup(_LINKED.sub(link, clean))


def text_html(text: str | None) -> Markup:
    return Markup("<br>").join(escape(text or "").split("\n"))


#: ``<https://example.com|label>``: the link form integrations write into posts (Slack's, which
#: Missive renders; its own webhook relay links issues, commits and branches this way).
_LABELED_LINK = re.compile(r"<((?:https?|mailto):[^\s<>|]+)\|([^<>\n]+)>")


def _markdown_link(match: re.Match[str]) -> str:
    label = re.sub(r"([\\\[\]])", r"\\\1", match.group(2))
    return f"[{label}](<{match.group(1)}>)"


def markdown_html(text: str | None) -> Markup:
    """Post content (text, markdown, attachment blocks): CommonMark plus labeled links."""
    html = _MARKDOWN.render(_LABELED_LINK.sub(_markdown_link, text or ""))
    return Markup(
        nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    )


def _moment(at: int) -> datetime | None:
    """A stored time as a date, or None when no calendar date has it (a value written before
    it was validated must never make a page fail)."""
    try:
        return datetime.fromtimestamp(at, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def short_time(at: int | None, now: int) -> str:
    moment = _moment(at) if at else None
    if moment is None or not at:
        return ""
    age = now - at
    if 0 <= age < 60:
        return "now"
    if 0 <= age < 3600:
        return f"{age // 60} min"
    if 0 <= age < 86400:
        return moment.strftime("%H:%M")
    today = _moment(now)
    if today is not None and today.year == moment.year:
        return moment.strftime("%b %-d")
    return moment.strftime("%Y-%m-%d")


def full_time(at: int | None) -> str:
    moment = _moment(at) if at else None
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def pretty_json(raw: bytes) -> str:
    """A webhook body as sent, indented for reading (the bytes themselves if not JSON)."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw.decode("utf-8", "replace")


_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_IMAGE_SCHEMES = frozenset({"http", "https"})
#: Browsers drop these anywhere in a URL, so ``java\tscript:`` is ``javascript:`` to them.
_URL_NOISE = dict.fromkeys(map(ord, "\t\n\r"))


def safe_link(url: object) -> str | None:
    """A stored URL the page may link to (http, https, mailto), or None: posts and channels
    store URLs as given, and ``javascript:`` or ``data:`` in an ``href`` would run on our origin."""
    return _safe_url(url, _LINK_SCHEMES)


def safe_image(url: object) -> str | None:
    """A stored URL the page may load as an image (http, https), or None."""
    return _safe_url(url, _IMAGE_SCHEMES)


def _safe_url(url: object, schemes: frozenset[str]) -> str | None:
    if not isinstance(url, str):
        return None
    # Leading C0 controls and spaces are stripped by browsers before the scheme is read.
    clean = url.translate(_URL_NOISE).lstrip("".join(map(chr, range(33))))
    scheme, colon, rest = clean.partition(":")
    if not colon or scheme.lower() not in schemes:
        return None
    if scheme.lower() != "mailto" and not rest.startswith("//"):
        return None
    return clean
