"""The SQLite database behind the index: articles, passages and the embedding cache.

One file, WAL mode: readers keep answering from the last committed state while an update
writes, and an update becomes visible in one commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite
import numpy as np

from embeddings.corpus import Article
from embeddings.splitter import Passage, join_sentences

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source_url TEXT,
    date TEXT,
    lang TEXT,
    source_file TEXT NOT NULL,
    content_hash TEXT NOT NULL
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
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    passage_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, passage_id)
) WITHOUT ROWID;
"""


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

    @property
    def text(self) -> str:
        return join_sentences(self.sentences, self.paragraph_starts)


async def connect(path: str, *, readonly: bool = False) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA busy_timeout = 10000")
    if not readonly:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.executescript(SCHEMA)
        await conn.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
    return conn


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


async def delete_articles(conn: aiosqlite.Connection, ids: Iterable[str]) -> int:
    """Delete articles with their passages and lexical rows; returns passages removed."""
    removed = 0
    for article_id in ids:
        async with conn.execute(
            "SELECT rowid FROM passages WHERE article_id = ?", (article_id,)
        ) as cur:
            rowids = [(r[0],) async for r in cur]
        await conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", rowids)
        await conn.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))
        await conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        removed += len(rowids)
    return removed


async def insert_article(
    conn: aiosqlite.Connection,
    article: Article,
    passages: list[Passage],
    terms: list[str],
) -> None:
    """Insert one article, its passages and their lexical terms (one string per passage)."""
    await conn.execute(
        "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            article.id,
            article.title,
            article.source_url,
            article.date,
            article.lang,
            article.source_file,
            article.content_hash,
        ),
    )
    for passage, passage_terms in zip(passages, terms, strict=True):
        sentences = json.dumps(
            list(zip(passage.sentences, passage.paragraph_starts, strict=True)),
            ensure_ascii=False,
        )
        cur = await conn.execute(
            "INSERT INTO passages (id, article_id, position, sentences, ranking_text)"
            " VALUES (?, ?, ?, ?, ?)",
            (passage.id, article.id, passage.position, sentences, passage.ranking_text),
        )
        await conn.execute(
            "INSERT INTO passages_fts (rowid, terms) VALUES (?, ?)", (cur.lastrowid, passage_terms)
        )


async def fetch_passages(conn: aiosqlite.Connection, rowids: list[int]) -> dict[int, StoredPassage]:
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    sql = (
        "SELECT p.rowid, p.id, p.article_id, p.position, p.sentences, p.ranking_text,"
        " a.title, a.source_url, a.date FROM passages p JOIN articles a ON a.id = p.article_id"
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
            )
    return out


async def passages_without_embedding(
    conn: aiosqlite.Connection, model: str
) -> list[tuple[str, str]]:
    """(passage id, ranking text) of passages the embedding cache lacks for `model`."""
    sql = (
        "SELECT p.id, p.ranking_text FROM passages p LEFT JOIN embeddings e"
        " ON e.model = ? AND e.passage_id = p.id WHERE e.passage_id IS NULL ORDER BY p.rowid"
    )
    async with conn.execute(sql, (model,)) as cur:
        return [(r[0], r[1]) async for r in cur]


async def cached_embedding_ids(conn: aiosqlite.Connection, model: str, ids: list[str]) -> set[str]:
    """Which of `ids` the embedding cache already holds for `model`."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        sql = f"SELECT passage_id FROM embeddings WHERE model = ? AND passage_id IN ({marks})"
        async with conn.execute(sql, (model, *part)) as cur:
            found.update([row[0] async for row in cur])
    return found


async def store_embeddings(
    conn: aiosqlite.Connection, model: str, ids: list[str], vectors: np.ndarray
) -> None:
    await conn.executemany(
        "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
        [
            (model, pid, vec.astype(np.float32).tobytes())
            for pid, vec in zip(ids, vectors, strict=True)
        ],
    )


async def all_embeddings(conn: aiosqlite.Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, vectors) of every passage, from the cache; passages without one are absent."""
    sql = (
        "SELECT p.rowid, e.vector FROM passages p JOIN embeddings e"
        " ON e.model = ? AND e.passage_id = p.id ORDER BY p.rowid"
    )
    async with conn.execute(sql, (model,)) as cur:
        rows = await cur.fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return ids, vectors


async def prune_embeddings(conn: aiosqlite.Connection, model: str) -> None:
    """Drop cached vectors of passages that no longer exist, for the current model only."""
    await conn.execute(
        "DELETE FROM embeddings WHERE model = ? AND passage_id NOT IN (SELECT id FROM passages)",
        (model,),
    )
