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


def short_time(at: int | None, now: int) -> str:
    if not at:
        return ""
    moment = datetime.fromtimestamp(at, UTC)
    age = now - at
    if 0 <= age < 60:
        return "now"
    if 0 <= age < 3600:
        return f"{age // 60} min"
    if 0 <= age < 86400:
        return moment.strftime("%H:%M")
    if datetime.fromtimestamp(now, UTC).year == moment.year:
        return moment.strftime("%b %-d")
    return moment.strftime("%Y-%m-%d")


def full_time(at: int | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else ""


def pretty_json(raw: bytes) -> str:
    """A webhook body as sent, indented for reading (the bytes themselves if not JSON)."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except ValueError:
        return raw.decode("utf-8", "replace")
