"""The SQLite store: connections that never outlive a failure, integrity checks, and the
embedding cache's grace period for vectors of removed passages."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from embeddings import store
from embeddings.corpus import Article
from embeddings.splitter import split_article
from embeddings.text import terms

ARTICLE = Article(
    id="a1",
    title="Konferans",
    text="Konferans 16 Aralık'ta yapıldı. Başkanlığı Le Minh Hung yaptı.\nİkinci paragraf.",
    source_file="a1.txt",
)


def worker_threads() -> list[threading.Thread]:
    """aiosqlite's connection threads still running, after giving them time to finish."""
    threads = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    for thread in threads:
        thread.join(timeout=10)
    return [t for t in threads if t.is_alive()]


async def test_a_connection_whose_set_up_fails_is_closed(tmp_path: Path):
    """An open connection's thread is not a daemon: left behind, it keeps the process alive
    after the error (the hang after a traceback)."""
    garbage = tmp_path / "qabot.sqlite3"
    garbage.write_bytes(b"not a database" * 512)
    before = worker_threads()
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        await store.connect(garbage)
    assert worker_threads() == before


async def test_quick_check_reports_a_damaged_page(tmp_path: Path):
    path = tmp_path / "qabot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE t (x TEXT)")
    raw.execute("CREATE INDEX t_x ON t (x)")
    raw.executemany("INSERT INTO t VALUES (?)", [(f"satır {i} " * 20,) for i in range(2000)])
    raw.commit()
    raw.close()
    conn = await store.connect(path, readonly=True)
    try:
        assert await store.integrity_problem(conn) is None
    finally:
        await conn.close()
    with open(path, "r+b") as fh:  # page 20 of 4096 bytes overwritten, the header intact
        fh.seek(20 * 4096)
        fh.write(b"\xde\xad\xbe\xef" * 1024)
    conn = await store.connect(path, readonly=True)
    try:
        assert await store.integrity_problem(conn)
    finally:
        await conn.close()


async def test_a_database_from_before_the_grace_period_gains_its_column(tmp_path: Path):
    path = tmp_path / "qabot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(
        "CREATE TABLE embeddings (model TEXT NOT NULL, passage_id TEXT NOT NULL,"
        " vector BLOB NOT NULL, PRIMARY KEY (model, passage_id)) WITHOUT ROWID"
    )
    raw.execute("INSERT INTO embeddings VALUES ('m', 'p1', x'00')")
    raw.commit()
    raw.close()
    conn = await store.connect(path)
    try:
        async with conn.execute("SELECT passage_id, orphaned_at FROM embeddings") as cur:
            assert await cur.fetchall() == [("p1", None)]
    finally:
        await conn.close()


async def test_a_database_from_before_news_facts_gains_their_columns(tmp_path: Path):
    """Schema 3 had no attribution, dates, story or signature: the columns are added (left
    empty until the articles are analysed again), and opening it again writes nothing."""
    path = tmp_path / "qabot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(
        "CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT NOT NULL, source_url TEXT,"
        " date TEXT, lang TEXT, source_file TEXT NOT NULL, content_hash TEXT NOT NULL)"
    )
    raw.execute("INSERT INTO articles VALUES ('a', 'T', NULL, '2026-01-05', 'tr', 'a.md', 'h')")
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    raw.commit()
    raw.close()
    conn = await store.connect(path)
    try:
        sql = "SELECT id, attribution, published, mentions, story, signature FROM articles"
        async with conn.execute(sql) as cur:
            assert await cur.fetchall() == [("a", None, None, None, None, None)]
        assert await store.latest_published(conn, None) is None  # undated until analysed
    finally:
        await conn.close()
    conn = await store.connect(path)
    try:
        assert conn.total_changes == 0
    finally:
        await conn.close()


async def test_fts5_gathers_a_large_batch_of_terms_in_new_and_older_databases(tmp_path: Path):
    """A first build's FTS5 inserts go in a few large segments (FTS5_HASH_BYTES), in a new
    database and in one from schema 4, which gains the setting once."""
    path = tmp_path / "qabot.sqlite3"
    conn = await store.connect(path)
    try:
        assert await hash_size(conn) == store.FTS5_HASH_BYTES
        await conn.execute("DELETE FROM passages_fts_config WHERE k = 'hashsize'")
        await store.set_meta(conn, "schema_version", "4")
    finally:
        await conn.close()
    for again in (False, True):
        conn = await store.connect(path)
        try:
            assert await hash_size(conn) == store.FTS5_HASH_BYTES
            assert (conn.total_changes == 0) == again  # once migrated, opening writes nothing
        finally:
            await conn.close()


async def hash_size(conn) -> int | None:
    async with conn.execute("SELECT v FROM passages_fts_config WHERE k = 'hashsize'") as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def test_vectors_of_removed_passages_are_dated_kept_and_pruned(tmp_path: Path):
    conn = await store.connect(tmp_path / "qabot.sqlite3")
    try:
        passages = split_article(ARTICLE)
        lexical = [" ".join(terms(p.ranking_text)) for p in passages]
        ids = [p.id for p in passages]
        vectors = np.eye(len(ids), 4, dtype=np.float32)
        items = [store.NewPassage.of(p, t) for p, t in zip(passages, lexical, strict=True)]
        await store.insert_passages(conn, items, await store.next_rowid(conn))
        for model in ("model-a", "model-b"):
            await store.store_embeddings(conn, model, ids, vectors)

        await store.delete_articles(conn, [ARTICLE.id])
        await store.mark_orphaned_embeddings(conn, now=1000.0)
        assert await orphaned_at(conn) == {1000.0}
        await store.insert_passages(conn, items, await store.next_rowid(conn))  # it came back
        await store.mark_orphaned_embeddings(conn, now=2000.0)
        assert await orphaned_at(conn) == {None}

        await store.delete_articles(conn, [ARTICLE.id])
        await store.mark_orphaned_embeddings(conn, now=3000.0)
        await store.mark_orphaned_embeddings(conn, now=4000.0)  # dated once, not re-dated
        assert await orphaned_at(conn) == {3000.0}
        assert await store.prune_orphaned_embeddings(conn, orphaned_before=3000.0) == (0, 0)
        count, size = await store.prune_orphaned_embeddings(conn, orphaned_before=3000.5)
        assert (count, size) == (2 * len(ids), vectors.nbytes * 2)
        assert await orphaned_at(conn) == set()
    finally:
        await conn.close()


async def orphaned_at(conn) -> set[float | None]:
    async with conn.execute("SELECT orphaned_at FROM embeddings") as cur:
        return {row[0] async for row in cur}


async def test_a_segments_vectors_are_read_by_passage_not_by_scanning_the_cache(tmp_path: Path):
    """A new segment's few passages must not cost a walk over every cached vector."""
    conn = await store.connect(tmp_path / "qabot.sqlite3")
    try:
        async with conn.execute("EXPLAIN QUERY PLAN " + store.BLOBS_SQL, ("m", 1, 2)) as cur:
            plan = [row[3] async for row in cur]
    finally:
        await conn.close()
    assert plan[0].startswith("SEARCH p USING INTEGER PRIMARY KEY")
    assert "PRIMARY KEY (model=? AND passage_id=?)" in plan[1]
