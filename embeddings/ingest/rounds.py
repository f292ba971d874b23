"""One ingest round: read each feed (conditionally), fetch the pages of its new items, extract
their articles and write them into the corpus folder.

Nothing in a round is lost to one failure: a feed that cannot be read is one error line and
the other feeds go on; an item that fails is one skipped line, kept in the state and tried
again in the next rounds (up to `max_attempts`). Items are deduplicated by normalised URL
before anything is fetched, and by the hash of the extracted text after, so a page reached
through two feeds or two URLs is one article.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from embeddings.corpus import check_corpus_folder
from embeddings.ingest.config import IngestConfig
from embeddings.ingest.corpusfiles import article_path, render_article, write_atomically
from embeddings.ingest.extract import Extracted, extract_article
from embeddings.ingest.feeds import FeedFormatError, FeedItem, parse_feed
from embeddings.ingest.fetch import PAGE_ACCEPT, Fetcher, FetchError
from embeddings.ingest.state import FeedRound, IngestState
from embeddings.ingest.urls import BadURL, check_web_url, host_of, normalize_url

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
ITEMS_IN_FLIGHT = 8  # per feed; the fetcher's per-host limit still applies


@dataclass(frozen=True)
class ItemSkip:
    url: str
    reason: str


@dataclass
class FeedReport:
    feed: str
    new: int = 0
    known: int = 0
    skipped: list[ItemSkip] = field(default_factory=list)
    error: str | None = None  # the feed itself could not be read
    not_modified: bool = False  # 304: nothing new since the last round
    paths: list[Path] = field(default_factory=list)  # articles written


@dataclass
class RoundReport:
    feeds: list[FeedReport]
    seconds: float = 0.0

    @property
    def paths(self) -> list[Path]:
        return [path for feed in self.feeds for path in feed.paths]

    @property
    def unreadable(self) -> list[FeedReport]:
        return [feed for feed in self.feeds if feed.error]


class _Known(Exception):
    """The item is an article already (by URL or by content)."""


class Ingestor:
    """Runs rounds against one state file; concurrent rounds of one ingestor share its
    dedup lock."""

    def __init__(self, config: IngestConfig, state: IngestState) -> None:
        self.config = config
        self.state = state
        self._lock = asyncio.Lock()  # content-hash check and file write, together

    async def run_round(self, feeds: Sequence[str] | None = None) -> RoundReport:
        """One round over `feeds` (default: the configured ones). CorpusRootError, with
        nothing fetched, when the corpus folder is missing (unmounted): articles are never
        written where it should be."""
        started = time.perf_counter()
        await asyncio.to_thread(check_corpus_folder, self.config.corpus_dir)
        feeds = list(dict.fromkeys(feeds or self.config.feed_urls))
        trusted = {host_of(feed) for feed in [*feeds, *self.config.feed_urls]}
        claimed: set[str] = set()  # URLs some feed of this round is fetching
        async with Fetcher(self.config, trusted) as fetcher:
            reports = await asyncio.gather(*(self._feed(fetcher, feed, claimed) for feed in feeds))
        return RoundReport(list(reports), time.perf_counter() - started)

    async def _feed(self, fetcher: Fetcher, feed: str, claimed: set[str]) -> FeedReport:
        report = FeedReport(feed)
        items: list[FeedItem] = []
        language = None
        etag, modified = await self.state.validators(feed)
        validators: tuple[str | None, str | None] = (None, None)
        try:
            response = await fetcher.get(feed, headers=_conditional(etag, modified))
            if response.status == 304:
                report.not_modified = True
            elif response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            else:
                parsed = await asyncio.to_thread(parse_feed, response.body, response.content_type)
                items, language = parsed.items, parsed.language
                validators = (response.headers.get("etag"), response.headers.get("last-modified"))
        except (FetchError, FeedFormatError) as err:
            report.error = str(err)
            log.info("Feed %s could not be read: %s", feed, err)
        items += await self.state.retries(feed, self.config.max_attempts)
        gate = asyncio.Semaphore(ITEMS_IN_FLIGHT)

        async def one(item: FeedItem) -> None:
            async with gate:
                await self._item(fetcher, feed, item, language, claimed, report)

        await asyncio.gather(*(one(item) for item in _distinct(items)))
        await self.state.save_round(
            FeedRound(
                feed, time.time(), report.new, report.known, len(report.skipped), report.error
            ),
            *validators,
        )
        return report

    async def _item(
        self,
        fetcher: Fetcher,
        feed: str,
        item: FeedItem,
        language: str | None,
        claimed: set[str],
        report: FeedReport,
    ) -> None:
        try:
            link = check_web_url(item.link)
        except BadURL as err:
            report.skipped.append(ItemSkip(item.link, str(err)))
            return
        url = normalize_url(link)
        if url in claimed:  # another feed of this round has it
            report.known += 1
            return
        claimed.add(url)
        if await self.state.is_known(url, self.config.max_attempts):
            report.known += 1
            return
        try:
            path = await self._fetch_article(fetcher, feed, item, link, url, language)
        except _Known:
            report.known += 1
        except FetchError as err:
            attempts = await self.state.record_failure(url, feed, item, str(err))
            final = attempts >= self.config.max_attempts
            reason = f"{err} (given up after {attempts} attempts)" if final else str(err)
            report.skipped.append(ItemSkip(link, reason))
        else:
            report.new += 1
            report.paths.append(path)

    async def _fetch_article(
        self,
        fetcher: Fetcher,
        feed: str,
        item: FeedItem,
        link: str,
        url: str,
        language: str | None,
    ) -> Path:
        """The new article's file; _Known when it is one already; FetchError on failure."""
        response = await fetcher.get(link, headers={"Accept": PAGE_ACCEPT})
        if response.status != 200:
            raise FetchError(f"HTTP {response.status}")
        if response.content_type not in HTML_TYPES:
            raise FetchError(f"not an HTML page ({response.content_type})")
        page_url = normalize_url(response.url)
        urls = {url, page_url}
        if page_url != url and await self.state.is_known(page_url, self.config.max_attempts):
            await self.state.add_aliases(urls, page_url, feed)
            raise _Known
        article = await asyncio.to_thread(
            extract_article, response.body, response.url, _charset(response.content_type_header)
        )
        if article is None:
            raise FetchError("no article text found on the page")
        digest = content_hash(article)
        async with self._lock:
            if await self.state.path_of_content(digest) is not None:
                await self.state.record_article(urls, digest, None, feed)
                raise _Known
            rel = article_path(page_url)
            text = render_article(
                title=article.title or item.title,
                url=page_url,
                date=article.date or item.date,
                lang=article.lang or language or "tr",
                feed=feed,
                paragraphs=article.paragraphs,
            )
            target = self.config.corpus_dir / rel
            await asyncio.to_thread(write_atomically, target, text.encode("utf-8"))
            await self.state.record_article(urls, digest, rel, feed)
        log.info("New article from %s: %s", feed, rel)
        return target


def content_hash(article: Extracted) -> str:
    """The same text is the same article, whatever the page's title or URL."""
    text = "\n".join(" ".join(p.split()).casefold() for p in article.paragraphs)
    return hashlib.sha256(text.encode()).hexdigest()


def _conditional(etag: str | None, modified: str | None) -> dict[str, str]:
    headers = {"Accept": FEED_ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    return headers


def _distinct(items: list[FeedItem]) -> list[FeedItem]:
    """One item per normalised link (a feed may list a page twice, or a retry be listed)."""
    seen: dict[str, FeedItem] = {}
    for item in items:
        seen.setdefault(normalize_url(item.link), item)
    return list(seen.values())


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None
