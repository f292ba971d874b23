"""Feed documents: each format's items, dates as the feed wrote them, broken documents."""

from __future__ import annotations

import pytest

from embeddings.ingest.feeds import FeedFormatError, FeedItem, parse_feed

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Haberler</title><language>tr-TR</language>
<item><title>Gece yar\xc4\xb1s\xc4\xb1 haberi</title><link>https://haber.example/a</link>
<pubDate>Sat, 03 May 2025 01:30:00 +0300</pubDate></item>
<item><title>Ba\xc4\x9flant\xc4\xb1s\xc4\xb1z</title></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<updated>2025-05-04T00:00:00Z</updated>
<entry><title>Atom haberi</title><id>urn:1</id>
<link rel="alternate" href="https://haber.example/b"/>
<published>2025-05-03T23:30:00+03:00</published><updated>2025-05-05T10:00:00+03:00</updated>
</entry></feed>"""

JSON_FEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "J", "language": "tr",
"items": [{"id": "1", "url": "https://haber.example/c", "title": "JSON haberi",
"date_published": "2025-05-02T08:00:00Z"}, {"id": "2", "content_text": "no link"}]}"""


def test_rss_items_keep_the_date_of_their_own_time_zone() -> None:
    feed = parse_feed(RSS, "application/rss+xml")

    # 01:30 in Istanbul is still 2 May in UTC: the article's day is the 3rd
    assert feed.items == [FeedItem("https://haber.example/a", "Gece yarısı haberi", "2025-05-03")]
    assert feed.language == "tr"


def test_atom_entries_are_dated_by_publication() -> None:
    feed = parse_feed(ATOM, "application/atom+xml")

    assert feed.items == [FeedItem("https://haber.example/b", "Atom haberi", "2025-05-03")]


def test_json_feed_items_are_read() -> None:
    feed = parse_feed(JSON_FEED, "application/feed+json")

    assert feed.items == [FeedItem("https://haber.example/c", "JSON haberi", "2025-05-02")]
    assert feed.language == "tr"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty feed document"),
        (b"<html><body><p>Bir sayfa</p></body></html>", "not an RSS or Atom feed"),
        (b"<rss version='2.0'><channel><item><title>Yar", "malformed feed: line "),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "malformed JSON feed"),
        (b'{"title": "bir JSON"}', "not a JSON Feed"),
    ],
)
def test_a_document_that_is_no_feed_says_why(body: bytes, reason: str) -> None:
    with pytest.raises(FeedFormatError, match=f"^{reason}"):
        parse_feed(body, "text/xml")
