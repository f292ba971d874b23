"""The SQLite database behind the index: articles, passages and the embedding cache.

One file, WAL mode: readers keep answering from the last committed state while an update
writes, and an update becomes visible in one commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import aiosqlite
import numpy as np

from embeddings.answer import Copy
from embeddings.corpus import Article
from embeddings.splitter import Passage, join_sentences
from embeddings.stories import NUM_PERM

DB_NAME = "qabot.sqlite3"  # in the data folder
# The WAL is cut back to this after a checkpoint: a first build's one transaction grows it to
# the size of the whole database.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
WRITER_CACHE_KIB = 64 * 1024
# 2: embeddings.orphaned_at; 3: files; 4: articles' news facts; 5: FTS5's hash size
SCHEMA_VERSION = "5"
# Terms FTS5 gathers in memory before writing them out as a segment (its default: 1 MiB). A
# first build's terms then make a few large segments, not hundreds of small ones merged again
# and again: inserting 128k passages' terms takes 3.7 s of CPU instead of 6.3 (medians of 4
# rounds; 64 MiB did no better, 256 worse; benchmarks/fts5_insert.py).
FTS5_HASH_BYTES = 16 * 1024 * 1024
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source_url TEXT,
    date TEXT,
    lang TEXT,
    source_file TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    attribution TEXT,  -- "Kaynak: AA", "VNA'ya göre" (corpus.attribution_of)
    published TEXT,  -- ISO day parsed from `date`; NULL when undated
    mentions TEXT,  -- JSON [[start, end], ...]: the dates its text mentions (timewords)
    story TEXT,  -- the story it belongs to (stories.py); copies of one article share it
    signature BLOB  -- MinHash of its text, uint32[stories.NUM_PERM]
);
CREATE TABLE IF NOT EXISTS passages (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    sentences TEXT NOT NULL,  -- JSON [[sentence, starts_paragraph], ...]
    ranking_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_article ON passages (article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5 (
    terms, tokenize = "unicode61 remove_diacritics 0 tokenchars '_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_vocab USING fts5vocab (passages_fts, row);
CREATE TABLE IF NOT EXISTS files (  -- what each corpus file was when last read
    path TEXT PRIMARY KEY,  -- relative to the corpus folder
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    passage_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    orphaned_at REAL,  -- unix time its passage left the corpus; NULL while it exists
    PRIMARY KEY (model, passage_id)
) WITHOUT ROWID;
"""
ORPHANS_INDEX = """
CREATE INDEX IF NOT EXISTS embeddings_orphaned ON embeddings (orphaned_at)
    WHERE orphaned_at IS NOT NULL;
"""
# Created by `_migrate`, after the columns they index exist in an older database too.
NEWS_INDEXES = """
CREATE INDEX IF NOT EXISTS articles_by_story ON articles (story);
CREATE INDEX IF NOT EXISTS articles_by_published ON articles (published);
"""
NEWS_COLUMNS = {
    "attribution": "TEXT",
    "published": "TEXT",
    "mentions": "TEXT",
    "story": "TEXT",
    "signature": "BLOB",
}


@dataclass(frozen=True)
class StoredPassage:
    rowid: int
    id: str
    article_id: str
    position: int
    sentences: tuple[str, ...]
    paragraph_starts: tuple[bool, ...]
    ranking_text: str
    title: str
    source_url: str | None
    date: str | None
    attribution: str | None = None

    @property
    def text(self) -> str:
        return join_sentences(self.sentences, self.paragraph_starts)


async def connect(path: str | Path, *, readonly: bool = False) -> aiosqlite.Connection:
    """A connection: the writer (WAL mode, schema created or migrated) or a reader.

    A connection whose set-up fails is closed before the error propagates: aiosqlite's
    worker threads are not daemons, and one left open keeps the process alive forever.
    """
    target = _readonly_uri(Path(path)) if readonly else str(path)
    conn = await aiosqlite.connect(target, isolation_level=None, uri=readonly)
    try:
        await conn.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            # Not in COMMIT: the engine checkpoints after publishing (a first build's WAL
            # holds the whole database; copying it back is seconds nobody need wait for).
            await conn.execute("PRAGMA wal_autocheckpoint = 0")
            await conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            # A first build inserts passages in article-id order, not in that of the id
            # indexes: with SQLite's default 2 MiB of cache, their pages are read back over
            # and over (inserting 128k passages: 6.2 → 5.7 s).
            await conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            await conn.executescript(SCHEMA)
            await _migrate(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


def checkpoint(path: Path) -> None:
    """Copy the WAL back into the database on a connection of its own: PASSIVE, it waits
    for no reader, and the writer goes on appending to the WAL meanwhile."""
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _readonly_uri(path: Path) -> str:
    """Read-only. In a folder that cannot be written, SQLite cannot create the WAL index
    (-shm) that WAL mode needs: with no -wal file (no update was left unfinished there)
    the database is opened as immutable, otherwise it would not open at all."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not wal.exists():
        uri += "&immutable=1"
    return uri


async def _migrate(conn: aiosqlite.Connection) -> None:
    """Bring an older database to this schema. Writes nothing when it is current: opening
    the index must not need disk space (a full disk must not stop the answers)."""
    if await get_meta(conn, "schema_version") == SCHEMA_VERSION:
        return
    async with conn.execute("PRAGMA table_info(embeddings)") as cur:
        columns = {row[1] async for row in cur}
    if "orphaned_at" not in columns:
        await conn.execute("ALTER TABLE embeddings ADD COLUMN orphaned_at REAL")
    async with conn.execute("PRAGMA table_info(articles)") as cur:
        columns = {row[1] async for row in cur}
    for name, kind in NEWS_COLUMNS.items():
        if name not in columns:  # filled when the articles are next analysed (text.py)
            await conn.execute(f"ALTER TABLE articles ADD COLUMN {name} {kind}")
    await conn.executescript(ORPHANS_INDEX + NEWS_INDEXES)
    await conn.execute(
        "INSERT INTO passages_fts (passages_fts, rank) VALUES ('hashsize', ?)", (FTS5_HASH_BYTES,)
    )
    await set_meta(conn, "schema_version", SCHEMA_VERSION)


async def integrity_problem(conn: aiosqlite.Connection) -> str | None:
    """SQLite's `quick_check`: None when the database is sound, else its first complaint."""
    try:
        async with conn.execute("PRAGMA quick_check(1)") as cur:
            row = await cur.fetchone()
    except sqlite3.DatabaseError as err:  # e.g. "file is not a database"
        return str(err)
    if row and row[0] == "ok":
        return None
    report = str(row[0] if row else "no answer").replace("*** in database main ***", "")
    return " ".join(report.split())  # one line


async def get_meta(conn: aiosqlite.Connection, key: str) -> str | None:
    async with conn.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def set_meta(conn: aiosqlite.Connection, key: str, value: str) -> None:
    await conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


async def article_hashes(conn: aiosqlite.Connection) -> dict[str, tuple[str, str]]:
    """article id → (content hash, source file)."""
    async with conn.execute("SELECT id, content_hash, source_file FROM articles") as cur:
        return {row[0]: (row[1], row[2]) async for row in cur}


async def counts(conn: aiosqlite.Connection) -> tuple[int, int]:
    async with conn.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages)"
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]), int(row[1])


async def delete_articles(conn: aiosqlite.Connection, ids: Iterable[str]) -> list[tuple[int, str]]:
    """Delete articles with their passages and lexical rows; returns the passages' (row id,
    passage id)."""
    removed: list[tuple[int, str]] = []
    for article_id in ids:
        async with conn.execute(
            "SELECT rowid, id FROM passages WHERE article_id = ?", (article_id,)
        ) as cur:
            rows = [(int(r[0]), r[1]) async for r in cur]
        await conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(r,) for r, _ in rows])
        await conn.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))
        await conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        removed.extend(rows)
    return removed


@dataclass
class NewArticle:
    """An article as an update inserts it, with its news facts (news.py)."""

    article: Article
    content_hash: str
    published: str | None = None  # ISO day
    mentions: str | None = None  # JSON [[start, end], ...]
    signature: bytes | None = None
    story: str | None = None


class NewPassage(NamedTuple):
    """A passage as an update inserts it, one row: its sentences as stored and its lexical
    terms, space-joined. A tuple, for analysis workers to send back cheaply."""

    id: str
    article_id: str
    position: int
    sentences: str  # JSON [[sentence, starts_paragraph], ...]
    ranking_text: str
    terms: str

    @classmethod
    def of(cls, passage: Passage, terms: str) -> NewPassage:
        pairs = list(zip(passage.sentences, passage.paragraph_starts, strict=True))
        sentences = json.dumps(pairs, ensure_ascii=False)
        return cls(
            passage.id, passage.article_id, passage.position, sentences, passage.ranking_text, terms
        )


async def next_rowid(conn: aiosqlite.Connection) -> int:
    """The row id the next inserted passage gets: after the highest ever used
    (AUTOINCREMENT's own rule). An update's transaction is the only writer, and it numbers
    its passages before inserting them, for their new index segment."""
    async with conn.execute(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'passages'), 0),"
        " coalesce((SELECT max(rowid) FROM passages), 0))"
    ) as cur:
        (last,) = await cur.fetchone()
    return last + 1


async def insert_passages(conn: aiosqlite.Connection, items: list[NewPassage], first: int) -> None:
    """Insert passages numbered from row id `first` (`next_rowid`), with their lexical terms,
    in two statements whatever their number."""
    rows = [(rowid, *item[:5]) for rowid, item in enumerate(items, start=first)]
    lexical = [(rowid, item.terms) for rowid, item in enumerate(items, start=first)]
    await conn.executemany(
        "INSERT INTO passages (rowid, id, article_id, position, sentences, ranking_text)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    await conn.executemany("INSERT INTO passages_fts (rowid, terms) VALUES (?, ?)", lexical)


async def insert_articles(conn: aiosqlite.Connection, items: list[NewArticle]) -> None:
    """Insert articles (their passages are inserted apart) in one statement."""
    rows = []
    for item in items:
        a = item.article
        article = (a.id, a.title, a.source_url, a.date, a.lang, a.source_file)
        facts = (item.published, item.mentions, item.story, item.signature)
        rows.append((*article, item.content_hash, a.attribution, *facts))
    await conn.executemany(
        "INSERT INTO articles (id, title, source_url, date, lang, source_file, content_hash,"
        " attribution, published, mentions, story, signature)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def fetch_passages(conn: aiosqlite.Connection, rowids: list[int]) -> dict[int, StoredPassage]:
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    sql = (
        "SELECT p.rowid, p.id, p.article_id, p.position, p.sentences, p.ranking_text,"
        " a.title, a.source_url, a.date, a.attribution"
        " FROM passages p JOIN articles a ON a.id = p.article_id"
        f" WHERE p.rowid IN ({marks})"
    )
    out = {}
    async with conn.execute(sql, rowids) as cur:
        async for row in cur:
            pairs = json.loads(row[4])
            out[row[0]] = StoredPassage(
                rowid=row[0],
                id=row[1],
                article_id=row[2],
                position=row[3],
                sentences=tuple(s for s, _ in pairs),
                paragraph_starts=tuple(bool(f) for _, f in pairs),
                ranking_text=row[5],
                title=row[6],
                source_url=row[7],
                date=row[8],
                attribution=row[9],
            )
    return out


async def passages_without_embedding(
    conn: aiosqlite.Connection, model: str
) -> list[tuple[str, str, tuple[str, ...]]]:
    """(passage id, ranking text, sentences) of passages the cache lacks for `model`."""
    sql = (
        "SELECT p.id, p.ranking_text, p.sentences FROM passages p LEFT JOIN embeddings e"
        " ON e.model = ? AND e.passage_id = p.id WHERE e.passage_id IS NULL ORDER BY p.rowid"
    )
    async with conn.execute(sql, (model,)) as cur:
        return [(r[0], r[1], tuple(s for s, _ in json.loads(r[2]))) async for r in cur]


async def cached_embedding_ids(conn: aiosqlite.Connection, model: str, ids: list[str]) -> set[str]:
    """Which of `ids` the embedding cache already holds for `model`."""
    sql = "SELECT passage_id FROM embeddings WHERE model = ? AND passage_id IN ({marks})"
    return {row[0] for row in await _rows_in(conn, sql, ids, (model,))}


async def _rows_in(
    conn: aiosqlite.Connection, sql: str, keys: Iterable[str], before: tuple = ()
) -> list[sqlite3.Row]:
    """The rows of `sql` for every key, its `{marks}` an IN list filled 500 keys at a time
    (SQLite caps the parameters of one statement); `before`: the parameters ahead of it."""
    keys = list(keys)
    rows: list = []
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        query = sql.format(marks=",".join("?" * len(part)))
        async with conn.execute(query, (*before, *part)) as cur:
            rows.extend(await cur.fetchall())
    return rows


async def store_embeddings(
    conn: aiosqlite.Connection, model: str, ids: list[str], vectors: np.ndarray
) -> None:
    await store_blobs(conn, model, ids, [v.astype(np.float32).tobytes() for v in vectors])


async def store_blobs(
    conn: aiosqlite.Connection, model: str, ids: list[str], blobs: list[bytes]
) -> None:
    """Cache one blob per passage id under `model` (a vector, or a passage's sentence
    vectors)."""
    await conn.executemany(
        "INSERT OR REPLACE INTO embeddings (model, passage_id, vector) VALUES (?, ?, ?)",
        [(model, pid, blob) for pid, blob in zip(ids, blobs, strict=True)],
    )


async def embedding_blobs(
    conn: aiosqlite.Connection, model: str, first: int = 0, last: int = 2**62
) -> list[tuple[int, bytes]]:
    """(passage row id, cached blob) of the passages with row ids in [first, last] that
    have one, by row id."""
    return [row async for chunk in blob_chunks(conn, model, first, last) for row in chunk]


# CROSS JOIN keeps passages the outer loop (SQLite's rule): left free, the planner walked
# every cached vector of the model for a new segment's few passages (2.8 s at a million).
BLOBS_SQL = (
    "SELECT p.rowid, e.vector FROM passages p CROSS JOIN embeddings e"
    " ON e.model = ? AND e.passage_id = p.id WHERE p.rowid BETWEEN ? AND ? ORDER BY p.rowid"
)


async def blob_chunks(
    conn: aiosqlite.Connection,
    model: str,
    first: int = 0,
    last: int = 2**62,
    size: int = 50_000,
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """`embedding_blobs` a chunk at a time: a million passages' sentence vectors are
    gigabytes, better turned into arrays as they come than held twice."""
    async with conn.execute(BLOBS_SQL, (model, first, last)) as cur:
        while rows := await cur.fetchmany(size):
            yield [(int(r[0]), r[1]) for r in rows]


async def all_embeddings(
    conn: aiosqlite.Connection, model: str, first: int = 0, last: int = 2**62
) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, vectors) of the passages with row ids in [first, last], from the cache;
    passages without one are absent."""
    ids, parts = [], []
    async for rows in blob_chunks(conn, model, first, last):
        ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        blob = b"".join(r[1] for r in rows)
        parts.append(np.frombuffer(blob, dtype=np.float32).reshape(len(rows), -1))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(ids), np.concatenate(parts)


async def mark_orphaned_embeddings(conn: aiosqlite.Connection, now: float) -> None:
    """Date the cached vectors (of every model) whose passage has left the corpus, and undate
    those whose passage is back. Dated vectors are kept for a grace period: a corpus folder
    emptied by mistake comes back without re-embedding."""
    await conn.execute(
        "UPDATE embeddings SET orphaned_at = NULL"
        " WHERE orphaned_at IS NOT NULL AND passage_id IN (SELECT id FROM passages)"
    )
    await conn.execute(
        "UPDATE embeddings SET orphaned_at = ?"
        " WHERE orphaned_at IS NULL AND passage_id NOT IN (SELECT id FROM passages)",
        (now,),
    )


async def orphan_embeddings(
    conn: aiosqlite.Connection,
    models: list[str],
    now: float,
    removed: list[str],
    added: list[str],
) -> None:
    """Date the cached vectors (of these models) of passages an update removed, and undate
    those of passages it added (an unchanged passage of a changed article is both): what
    `mark_orphaned_embeddings` does for the whole cache, at the cost of the update."""
    for model in models:
        await conn.executemany(
            "UPDATE embeddings SET orphaned_at = ?"
            " WHERE model = ? AND passage_id = ? AND orphaned_at IS NULL",
            [(now, model, pid) for pid in removed],
        )
        await conn.executemany(
            "UPDATE embeddings SET orphaned_at = NULL"
            " WHERE model = ? AND passage_id = ? AND orphaned_at IS NOT NULL",
            [(model, pid) for pid in added],
        )


async def source_files(conn: aiosqlite.Connection) -> set[str]:
    """The corpus files the indexed articles came from."""
    async with conn.execute("SELECT DISTINCT source_file FROM articles") as cur:
        return {r[0] async for r in cur}


async def prune_orphaned_embeddings(
    conn: aiosqlite.Connection, orphaned_before: float | None = None
) -> tuple[int, int]:
    """Delete cached vectors orphaned before that time (None: all orphans); returns how many
    and their bytes."""
    where = "orphaned_at IS NOT NULL"
    params: tuple[float, ...] = ()
    if orphaned_before is not None:
        where += " AND orphaned_at < ?"
        params = (orphaned_before,)
    async with conn.execute(
        f"SELECT count(*), coalesce(sum(length(vector)), 0) FROM embeddings WHERE {where}", params
    ) as cur:
        count, size = await cur.fetchone()
    await conn.execute(f"DELETE FROM embeddings WHERE {where}", params)
    return int(count), int(size)


async def live_rowids(conn: aiosqlite.Connection) -> np.ndarray:
    """Every passage's row id, ascending: what the served segments must hold."""
    async with conn.execute("SELECT rowid FROM passages ORDER BY rowid") as cur:
        rows = await cur.fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


async def file_records(conn: aiosqlite.Connection) -> dict[str, tuple[int, int, str]]:
    """Corpus file → (size, mtime in ns, SHA-256) as last read."""
    async with conn.execute("SELECT path, size, mtime_ns, sha256 FROM files") as cur:
        return {r[0]: (int(r[1]), int(r[2]), r[3]) async for r in cur}


async def set_file_records(
    conn: aiosqlite.Connection, records: dict[str, tuple[int, int, str] | None]
) -> None:
    """Record (or, for None, forget) corpus files, in the caller's transaction."""
    await conn.executemany(
        "DELETE FROM files WHERE path = ?", [(p,) for p, r in records.items() if r is None]
    )
    await conn.executemany(
        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
        [(p, *r) for p, r in records.items() if r is not None],
    )


async def articles_of_files(
    conn: aiosqlite.Connection, files: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """article id → (content hash, source file) of the articles loaded from these files."""
    sql = "SELECT id, content_hash, source_file FROM articles WHERE source_file IN ({marks})"
    return {r[0]: (r[1], r[2]) for r in await _rows_in(conn, sql, files)}


async def article_sources(conn: aiosqlite.Connection, ids: Iterable[str]) -> dict[str, str]:
    """article id → source file, for those of `ids` that are indexed."""
    sql = "SELECT id, source_file FROM articles WHERE id IN ({marks})"
    return {r[0]: r[1] for r in await _rows_in(conn, sql, ids)}


@dataclass(frozen=True)
class NewsFacts:
    """What the question path needs to know of a candidate passage's article."""

    article_id: str
    story: str  # the article's own id until a story is assigned
    published: dt.date | None
    mentions: str | None  # JSON [[start, end], ...], parsed only by questions that need it


async def news_facts(conn: aiosqlite.Connection, rowids: list[int]) -> dict[int, NewsFacts]:
    """Passage row id → its article's news facts, for the candidates of a question."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    sql = (
        "SELECT p.rowid, a.id, a.story, a.published, a.mentions FROM passages p"
        f" JOIN articles a ON a.id = p.article_id WHERE p.rowid IN ({marks})"
    )
    async with conn.execute(sql, rowids) as cur:
        return {
            row[0]: NewsFacts(
                row[1], row[2] or row[1], dt.date.fromisoformat(row[3]) if row[3] else None, row[4]
            )
            async for row in cur
        }


async def latest_published(conn: aiosqlite.Connection, as_of: dt.date | None) -> dt.date | None:
    """The newest publication day (not after `as_of`); None in a corpus without dates."""
    sql = "SELECT max(published) FROM articles WHERE published <= ?"
    limit = (as_of or dt.date.max).isoformat()
    async with conn.execute(sql, (limit,)) as cur:
        (day,) = await cur.fetchone()
    return dt.date.fromisoformat(day) if day else None


async def published_between(conn: aiosqlite.Connection, start: dt.date, end: dt.date) -> bool:
    """Was any article published in [start, end]?"""
    sql = "SELECT 1 FROM articles WHERE published BETWEEN ? AND ? LIMIT 1"
    async with conn.execute(sql, (start.isoformat(), end.isoformat())) as cur:
        return await cur.fetchone() is not None


async def story_copies(
    conn: aiosqlite.Connection, stories: Iterable[str], as_of: dt.date | None
) -> dict[str, list[Copy]]:
    """story → its articles (not published after `as_of`), earliest first, undated last."""
    names = list(dict.fromkeys(stories))
    if not names:
        return {}
    marks = ",".join("?" * len(names))
    sql = (
        "SELECT story, id, title, source_url, date, published FROM articles"
        f" WHERE story IN ({marks}) AND (published IS NULL OR published <= ?)"
        " ORDER BY published IS NULL, published, id"
    )
    out: dict[str, list[Copy]] = {}
    limit = (as_of or dt.date.max).isoformat()
    async with conn.execute(sql, (*names, limit)) as cur:
        async for row in cur:
            out.setdefault(row[0], []).append(Copy(row[1], row[2], row[3], row[4]))
    return out


async def story_rows(
    conn: aiosqlite.Connection, exclude: set[str]
) -> tuple[list[str], list[str], np.ndarray]:
    """(ids, stories, signatures) of the indexed articles that have a signature, except
    `exclude`: what new articles are compared with to find the story they belong to."""
    ids, names, blobs = [], [], []
    async with conn.execute(
        "SELECT id, story, signature FROM articles WHERE signature IS NOT NULL ORDER BY rowid"
    ) as cur:
        async for row in cur:
            if row[0] not in exclude:
                ids.append(row[0])
                names.append(row[1] or row[0])
                blobs.append(row[2])
    sigs = np.frombuffer(b"".join(blobs), dtype=np.uint32).reshape(len(blobs), NUM_PERM)
    return ids, names, sigs
