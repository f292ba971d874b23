"""Feed documents: the `FeedFormat` interface, one backend per family of formats, and
`parse_feed`, which picks the backend for a response.

- `RssAtomFormat`: RSS 0.9x/1.0/2.0 and Atom, through feedparser (tolerant of the usual
  mistakes; a document that is not a feed at all is an error).
- `JsonFeedFormat`: JSON Feed 1.0/1.1 (https://jsonfeed.org), which feedparser does not read.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import feedparser


class FeedFormatError(ValueError):
    """The document is not a readable feed; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    link: str
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD: the item's own publication date


@dataclass(frozen=True)
class ParsedFeed:
    items: list[FeedItem]
    language: str | None = None  # the feed's declared language, e.g. "tr"


class FeedFormat(Protocol):
    def accepts(self, content_type: str, body: bytes) -> bool:
        """Whether this backend reads a document of this type and first bytes."""
        ...

    def parse(self, body: bytes, content_type: str) -> ParsedFeed:
        """The feed's items; FeedFormatError when it is not a feed of this format."""
        ...


class RssAtomFormat:
    def accepts(self, content_type: str, body: bytes) -> bool:
        return True  # the fallback: feedparser says what it is

    def parse(self, body: bytes, content_type: str) -> ParsedFeed:
        parsed = feedparser.parse(body, response_headers={"content-type": content_type})
        items = [
            FeedItem(link=link, title=_text(entry.get("title")), date=_entry_date(entry))
            for entry in parsed.entries
            if (link := _text(entry.get("link")))
        ]
        problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
        if problem and not items:  # broken before its first whole item: nothing to trust
            where = _first_line(problem).replace("<unknown>:", "line ", 1)
            raise FeedFormatError(f"malformed feed: {where}")
        if not parsed.get("version"):
            raise FeedFormatError("not an RSS or Atom feed")
        return ParsedFeed(items, _language(parsed.feed.get("language")))


class JsonFeedFormat:
    def accepts(self, content_type: str, body: bytes) -> bool:
        return content_type in ("application/feed+json", "application/json") or (
            body.lstrip()[:1] == b"{"
        )

    def parse(self, body: bytes, content_type: str) -> ParsedFeed:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise FeedFormatError(f"malformed JSON feed: {_first_line(err)}") from None
        if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
            "https://jsonfeed.org/version/"
        ):
            raise FeedFormatError("not a JSON Feed (no jsonfeed.org version)")
        raw_items = document.get("items")
        if not isinstance(raw_items, list):
            raise FeedFormatError("malformed JSON feed: no list of items")
        items = [
            FeedItem(
                link=link,
                title=_text(item.get("title")),
                date=_iso_date(item.get("date_published") or item.get("date_modified")),
            )
            for item in raw_items
            if isinstance(item, dict)
            and (link := _text(item.get("url") or item.get("external_url")))
        ]
        return ParsedFeed(items, _language(document.get("language")))


FORMATS: tuple[FeedFormat, ...] = (JsonFeedFormat(), RssAtomFormat())


def parse_feed(body: bytes, content_type: str = "") -> ParsedFeed:
    """The feed's items, read by the first backend that accepts the document."""
    if not body.strip():
        raise FeedFormatError("empty feed document")
    backend = next(f for f in FORMATS if f.accepts(content_type, body))
    return backend.parse(body, content_type)


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _entry_date(entry: Any) -> str | None:
    """The date as the feed wrote it, in its own time zone (feedparser's parsed dates are
    UTC: an item of 01:00 +03:00 would move to the day before)."""
    for key in ("published", "updated"):
        raw = entry.get(key)
        if date := _iso_date(raw) or _rfc822_date(raw):
            return date
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return time.strftime("%Y-%m-%d", parsed) if parsed else None


def _rfc822_date(value: Any) -> str | None:
    """RSS dates ("Sat, 03 May 2025 09:30:00 +0300")."""
    if not isinstance(value, str):
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _iso_date(value: Any) -> str | None:
    """JSON Feed dates are RFC 3339."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return None


def _language(value: Any) -> str | None:
    """ "tr-TR" → "tr"."""
    text = _text(value)
    return text.split("-", 1)[0].split("_", 1)[0].lower() if text else None


def _first_line(problem: object) -> str:
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0]
