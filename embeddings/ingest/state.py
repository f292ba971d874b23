"""The ingest state file (DATA_DIR/ingest.sqlite3): what the corpus folder cannot say.

- every page URL already turned into an article (normalised; aliases too), so that an item
  seen before is never fetched again, even after its article was deleted from the corpus;
- the hash of every saved article text, so that one page reached by two URLs is one article;
- items that failed, to be tried again in later rounds (a feed that answers 304 no longer
  lists them) until `max_attempts`;
- each feed's validators (ETag, Last-Modified) and its last round, for /stats and /feeds.

Losing the file costs a re-fetch of whatever the feeds still list; nothing in the index.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from embeddings.ingest.feeds import FeedItem

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY, content_hash TEXT NOT NULL, feed TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS contents (
    content_hash TEXT PRIMARY KEY, url TEXT NOT NULL, path TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY, feed TEXT NOT NULL, link TEXT NOT NULL, title TEXT, date TEXT,
    attempts INTEGER NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, round_at REAL,
    new INTEGER NOT NULL DEFAULT 0, known INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0, error TEXT
);
"""


class IngestStateError(RuntimeError):
    """The state file cannot be opened or is damaged; the message says what to do."""


@dataclass(frozen=True)
class FeedRound:
    """A feed's last round, as /stats and /feeds show it."""

    feed: str
    at: float | None  # epoch seconds; None: never polled
    new: int = 0
    known: int = 0
    skipped: int = 0
    error: str | None = None


class IngestState:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> IngestState:
        """IngestStateError, in one line saying what to do, when the file cannot be used."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path, timeout=10)
        except (OSError, sqlite3.Error) as err:
            raise IngestStateError(f"the ingest state {path} cannot be opened: {err}") from err
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.executescript(SCHEMA)
            await db.commit()
        except sqlite3.Error as err:
            await db.close()
            raise IngestStateError(
                f"the ingest state {path} is damaged ({err}): delete it to start over (the "
                "feeds' pages are fetched again; the corpus and the index lose nothing)"
            ) from err
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> IngestState:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def is_known(self, url: str, max_attempts: int) -> bool:
        """Whether `url` (normalised) is an article already, or was given up on."""
        async with self._db.execute(
            "SELECT 1 FROM urls WHERE url = ? UNION ALL "
            "SELECT 1 FROM failures WHERE url = ? AND attempts >= ?",
            (url, url, max_attempts),
        ) as cur:
            return await cur.fetchone() is not None

    async def path_of_content(self, content_hash: str) -> str | None:
        async with self._db.execute(
            "SELECT path FROM contents WHERE content_hash = ?", (content_hash,)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def record_article(
        self, urls: set[str], content_hash: str, path: str | None, feed: str
    ) -> None:
        """`urls` lead to the article with this text (saved at `path` when it is new)."""
        now = time.time()
        if path is not None:
            await self._db.execute(
                "INSERT OR IGNORE INTO contents VALUES (?, ?, ?, ?)",
                (content_hash, min(urls), path, now),
            )
        await self._db.executemany(
            "INSERT OR IGNORE INTO urls VALUES (?, ?, ?, ?)",
            [(url, content_hash, feed, now) for url in urls],
        )
        await self._db.executemany("DELETE FROM failures WHERE url = ?", [(u,) for u in urls])
        await self._db.commit()

    async def add_aliases(self, urls: set[str], known_url: str, feed: str) -> None:
        """`urls` lead to the same article as `known_url`."""
        await self._db.executemany(
            "INSERT OR IGNORE INTO urls SELECT ?, content_hash, ?, ? FROM urls WHERE url = ?",
            [(url, feed, time.time(), known_url) for url in urls],
        )
        await self._db.executemany("DELETE FROM failures WHERE url = ?", [(u,) for u in urls])
        await self._db.commit()

    async def record_failure(self, url: str, feed: str, item: FeedItem, reason: str) -> int:
        """One more failed attempt at an item; how many it has had."""
        await self._db.execute(
            "INSERT INTO failures VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(url) DO UPDATE "
            "SET attempts = attempts + 1, reason = excluded.reason, at = excluded.at",
            (url, feed, item.link, item.title, item.date, reason, time.time()),
        )
        await self._db.commit()
        async with self._db.execute("SELECT attempts FROM failures WHERE url = ?", (url,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else 1

    async def retries(self, feed: str, max_attempts: int) -> list[FeedItem]:
        """Items of `feed` that failed and are due another attempt."""
        async with self._db.execute(
            "SELECT link, title, date FROM failures WHERE feed = ? AND attempts < ? ORDER BY at",
            (feed, max_attempts),
        ) as cur:
            return [FeedItem(link, title, date) async for link, title, date in cur]

    async def validators(self, feed: str) -> tuple[str | None, str | None]:
        """The ETag and Last-Modified the feed sent last time."""
        async with self._db.execute(
            "SELECT etag, last_modified FROM feeds WHERE url = ?", (feed,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else (None, None)

    async def save_round(
        self, result: FeedRound, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """The feed's round, and its new validators when it sent a new document."""
        await self._db.execute(
            "INSERT INTO feeds (url, etag, last_modified, round_at, new, known, skipped, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "etag = coalesce(excluded.etag, etag), "
            "last_modified = coalesce(excluded.last_modified, last_modified), "
            "round_at = excluded.round_at, new = excluded.new, known = excluded.known, "
            "skipped = excluded.skipped, error = excluded.error",
            (
                result.feed,
                etag,
                last_modified,
                result.at,
                result.new,
                result.known,
                result.skipped,
                result.error,
            ),
        )
        await self._db.commit()

    async def last_rounds(self, feeds: list[str]) -> list[FeedRound]:
        """The last round of each of `feeds`, in that order (at None: never polled)."""
        async with self._db.execute(
            "SELECT url, round_at, new, known, skipped, error FROM feeds"
        ) as cur:
            rows = {row[0]: FeedRound(*row) async for row in cur}
        return [rows.get(feed, FeedRound(feed, None)) for feed in feeds]
