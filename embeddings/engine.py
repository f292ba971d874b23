"""The retrieval engine: incremental indexing of a corpus folder and hybrid question answering.

Readers never wait for an update: questions are answered from the last committed SQLite
state (WAL) and the current `Snapshot` of the vector index; an update builds everything on
the side and publishes it with one commit and one reference swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiosqlite
import numpy as np

from embeddings import glossary, indexfiles, lexical, retrieval, sentences, store
from embeddings.answer import Answer
from embeddings.config import EngineConfig
from embeddings.corpus import Article, CorpusRootError, LoadResult, Skipped, load_corpus
from embeddings.encoders import Encoder, load_encoder
from embeddings.encoders.profiles import ModelProfile, profile_for
from embeddings.fusion import Ranking
from embeddings.lexical import Bm25Index
from embeddings.progress import Progress, ProgressCallback
from embeddings.sentences import SentenceVectors
from embeddings.splitter import Passage, split_article
from embeddings.text import ANALYZER_VERSION, detect_language, terms
from embeddings.vectors import VectorIndex

log = logging.getLogger(__name__)

DB_NAME = "qabot.sqlite3"
PROFILES_NAME = "profiles.json"  # `qabot calibrate` results for this data folder
EMBED_CHUNK = 512  # passages encoded, then committed to the embedding cache, at a time
# An update removing more than this share of the indexed articles is refused (MassDeletion)
# unless confirmed: a wrong, emptied or unmounted corpus folder looks like that.
MAX_REMOVED_SHARE = 0.5
# A tiny index may lose this many articles without confirmation (3 of 4), but never all.
SMALL_REMOVAL = 5
# Cached vectors of passages that left the corpus are kept this long (or until `qabot gc
# --all`), so that an article removed by mistake comes back without being embedded again.
ORPHAN_GRACE_DAYS = 30
_NO_ENCODER = object()
IndexT = TypeVar("IndexT", VectorIndex, Bm25Index)


class IndexUpdateError(RuntimeError):
    """An update failed; the index that was serving before is still serving."""


class MassDeletion(IndexUpdateError):
    """An update would remove more of the corpus than allowed without confirmation
    (e.g. the corpus folder was emptied or unmounted); nothing was changed."""

    def __init__(self, removing: int, total: int) -> None:
        super().__init__(
            f"the update would remove {removing} of {total} articles; nothing was changed"
        )
        self.removing = removing
        self.total = total


class IndexOpenError(RuntimeError):
    """The index cannot be opened (damaged database, unwritable folder…); the message is one
    line saying what is wrong and what to do. Everything opened so far has been closed."""


@dataclass(frozen=True)
class Snapshot:
    """What a question is answered from; replaced whole, never mutated."""

    vectors: VectorIndex | None
    vector_file: str | None
    lexical: Bm25Index | None  # None: scored by FTS5 (LEXICAL_BACKEND=fts5)
    lexical_file: str | None
    articles: int
    passages: int
    sentences: SentenceVectors | None = None  # per-sentence vectors of the same passages


@dataclass
class UpdateReport:
    articles: int = 0
    passages: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    kept: int = 0  # articles kept from the old index because their file failed to load
    passages_added: int = 0
    passages_removed: int = 0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed or self.embedded)


@dataclass(frozen=True)
class IndexStats:
    articles: int
    passages: int
    model: str | None
    vector_index: str | None  # "flat" / "hnsw"
    index_bytes: int


class Engine:
    def __init__(
        self,
        config: EngineConfig,
        encoder: Encoder | None,
        writer: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        *,
        read_only: bool = False,
    ) -> None:
        self.config = config
        self.encoder = encoder
        self.read_only = read_only  # then `writer` is a read-only connection too
        self._writer = writer
        self._reader_list = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._snapshot = Snapshot(None, None, None, None, 0, 0)
        self._update_lock = asyncio.Lock()
        profile, self.profile_source = profile_for(
            encoder.key if encoder else None, config.data_dir / PROFILES_NAME
        )
        self.use_profile(profile)
        self._progress: ProgressCallback | None = None  # for encoding at start-up

    def use_profile(self, profile: ModelProfile) -> None:
        """Rank and judge with this model profile; settings that are set still win."""
        self.profile = profile
        self.fusion = dataclasses.replace(
            self.config.fusion,
            dense_weight=_first(self.config.fusion.dense_weight, profile.dense_weight),
            dense_weight_cross=_first(
                self.config.fusion.dense_weight_cross, profile.dense_weight_cross
            ),
        )

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        config: EngineConfig,
        encoder: Encoder | object | None = _NO_ENCODER,
        *,
        read_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Engine:
        """Open (creating if needed) the index in `config.data_dir` and load the model.

        `progress` reports any encoding start-up has to do (an index built with another
        model, or before sentence vectors existed).

        Pass `encoder` to share an already loaded model (evaluation, benchmarks).
        `read_only` answers from a built index without writing anything, for a folder that
        cannot be written: a damaged index file is rebuilt in memory only, and updates are
        refused. Raises `IndexOpenError`, with everything it opened closed again.
        """
        database = config.data_dir / DB_NAME
        _check_folder(database, read_only)
        if encoder is _NO_ENCODER:
            encoder = await asyncio.to_thread(
                load_encoder,
                config.model,
                timeout=config.model_load_timeout,
                batch_size=config.batch_size,
            )
        async with contextlib.AsyncExitStack() as opened:
            try:
                writer = await store.connect(database, readonly=read_only)
                opened.push_async_callback(writer.close)
                readers = []
                for _ in range(max(1, config.reader_connections)):
                    readers.append(await store.connect(database, readonly=True))
                    opened.push_async_callback(readers[-1].close)
                if problem := await store.integrity_problem(writer):
                    raise IndexOpenError(_damaged_database(database, problem))
                engine = cls(config, encoder, writer, readers, read_only=read_only)  # type: ignore[arg-type]
                if read_only and not await engine.is_built():
                    raise IndexOpenError(_not_built_read_only(config.data_dir))
                engine._progress = progress
                await engine._load_snapshot()
                await engine._refresh_sentences()
            except sqlite3.DatabaseError as err:
                if err.sqlite_errorcode in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                    raise IndexOpenError(_damaged_database(database, str(err))) from err
                raise IndexOpenError(f"cannot open the index in {database}: {err}") from err
            except OSError as err:
                raise IndexOpenError(
                    f"cannot open the index in {config.data_dir}: {err.strerror or err}"
                ) from err
            opened.pop_all()
        return engine

    async def close(self) -> None:
        """Close every connection, even when closing one fails: one left open would keep the
        process alive (aiosqlite's worker threads are not daemons)."""
        async with contextlib.AsyncExitStack() as closing:
            for conn in (self._writer, *self._reader_list):  # the writer last: it checkpoints
                closing.push_async_callback(conn.close)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def model_name(self) -> str | None:
        return self.encoder.name if self.encoder else None

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    async def is_built(self) -> bool:
        return await store.get_meta(self._writer, "indexed_at") is not None

    async def _load_snapshot(self) -> None:
        """Load the saved index files, verified; rebuild what is missing, out of date or
        damaged from the database (vectors from the embedding cache: nothing embedded before
        is embedded again). A read-only index rebuilds in memory only."""
        articles, passages = await store.counts(self._writer)
        current = await indexfiles.generation(self._writer)
        # The recorded files stay on disk even when this run does not use them (no model, or
        # the FTS5 backend): a later run with them rebuilds nothing.
        vector_file = await indexfiles.record(self._writer, "vectors")
        lexical_file = await indexfiles.record(self._writer, "lexical")
        vectors = lexical_index = None
        if self.encoder and passages:
            vectors = await self._verified(vector_file, current, VectorIndex.load, self.encoder.key)
        if self.config.lexical_backend == "memory":
            lexical_index = await self._verified(lexical_file, current, Bm25Index.load)
        self._snapshot = Snapshot(
            vectors,
            vector_file and vector_file.name,
            lexical_index,
            lexical_file and lexical_file.name,
            articles,
            passages,
        )
        stale_vectors = (
            self.encoder is not None and passages and (vectors is None or len(vectors) != passages)
        )
        stale_lexical = self.config.lexical_backend == "memory" and (
            lexical_index is None or len(lexical_index) != passages
        )
        if not (stale_vectors or stale_lexical):
            self._remove_stale_files()
            return
        log.info("Saved index missing or out of date; rebuilding it from the database.")
        if self.read_only:
            if stale_vectors:
                vectors = await self._build_vectors()
            if stale_lexical:
                lexical_index = await self._build_lexical()
            self._snapshot = dataclasses.replace(
                self._snapshot, vectors=vectors, lexical=lexical_index
            )
            return
        if stale_vectors:
            missing = await store.passages_without_embedding(self._writer, self.encoder.key)
            await self._embed(missing, self._progress)
        async with self._transaction():
            snap = self._snapshot
            if stale_vectors:
                vectors = await self._build_vectors()
                snap = dataclasses.replace(
                    snap,
                    vectors=vectors,
                    vector_file=await self._save("vectors", vectors, current, self.encoder.key),
                )
            if stale_lexical:
                lexical_index = await self._build_lexical()
                snap = dataclasses.replace(
                    snap,
                    lexical=lexical_index,
                    lexical_file=await self._save("lexical", lexical_index, current),
                )
        self._snapshot = snap
        self._remove_stale_files()

    async def _verified(
        self,
        file: indexfiles.FileRecord | None,
        current: int,
        loader: Callable[[Path], IndexT],
        model: str | None = None,
    ) -> IndexT | None:
        """A recorded index file, when it matches the database; None (to rebuild) when not,
        with one warning when it is damaged rather than out of date."""
        try:
            return await asyncio.to_thread(
                indexfiles.load, self.config.data_dir, file, current, loader, model
            )
        except indexfiles.DamagedFile as err:
            log.warning("Index file %s; rebuilding it from the database.", err)
            return None

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """BEGIN IMMEDIATE … COMMIT. On failure, roll back unless SQLite already has (it does
        on a full disk, and a second ROLLBACK would raise and hide that cause), and delete
        the index files written meanwhile: nothing refers to them."""
        await self._writer.execute("BEGIN IMMEDIATE")
        try:
            yield
            await self._writer.execute("COMMIT")
        except BaseException:
            if self._writer.in_transaction:
                try:
                    await self._writer.execute("ROLLBACK")
                except sqlite3.Error as err:
                    log.warning("ROLLBACK failed too: %s", err)
            self._remove_stale_files()
            raise

    # ---- indexing ---------------------------------------------------------------------

    async def update(
        self,
        corpus_dir: Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        """Bring the index in line with the corpus folder, touching only what changed.

        `progress` is called after each encoded chunk (on the event loop's thread). A corpus
        folder that is missing or unreadable changes nothing (IndexUpdateError); see `apply`
        for `allow_mass_delete`.
        """
        started = time.perf_counter()
        try:
            loaded = await asyncio.to_thread(load_corpus, corpus_dir or self.config.corpus_dir)
        except CorpusRootError as err:
            raise IndexUpdateError(f"{err}; nothing was changed") from err
        return await self.apply(
            loaded, started=started, progress=progress, allow_mass_delete=allow_mass_delete
        )

    async def apply(
        self,
        loaded: LoadResult,
        *,
        started: float | None = None,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        """Make the index hold exactly `loaded` (articles of failed files are kept).

        Removing more than MAX_REMOVED_SHARE of the indexed articles raises MassDeletion,
        changing nothing, unless `allow_mass_delete`.
        """
        started = started or time.perf_counter()
        if self.read_only:
            raise IndexUpdateError(
                f"the index in {self.config.data_dir} is open read-only; nothing was changed"
            )
        async with self._update_lock:
            try:
                report = await self._apply(loaded, progress, allow_mass_delete)
                if not report.unchanged:  # the same passages keep the same sentence vectors
                    await self._refresh_sentences()
            except IndexUpdateError:
                raise
            except (sqlite3.Error, OSError) as err:  # full disk, I/O error: the cause says it
                log.warning("Index update failed (%s); the previous index keeps serving.", err)
                raise IndexUpdateError(f"{type(err).__name__}: {err}") from err
            except Exception as err:
                log.exception("Index update failed; the previous index keeps serving.")
                raise IndexUpdateError(f"{type(err).__name__}: {err}") from err
        report.seconds = time.perf_counter() - started
        return report

    async def _apply(
        self,
        loaded: LoadResult,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        existing = await store.article_hashes(self._writer)
        if await store.get_meta(self._writer, "analyzer") != ANALYZER_VERSION:
            # Terms from another analyzer version would not match today's questions:
            # re-analyse every article (embeddings stay cached, keyed by passage id).
            existing = {key: ("", source) for key, (_, source) in existing.items()}
        failed_files = loaded.skipped_files
        incoming = {a.id: a for a in loaded.articles}
        added = [a for a in loaded.articles if a.id not in existing]
        changed = [
            a for a in loaded.articles if a.id in existing and existing[a.id][0] != a.content_hash
        ]
        gone = [i for i in existing if i not in incoming]
        kept = [i for i in gone if existing[i][1] in failed_files]
        removed = [i for i in gone if existing[i][1] not in failed_files]
        if not allow_mass_delete and is_mass_deletion(len(removed), len(existing)):
            raise MassDeletion(len(removed), len(existing))
        report = UpdateReport(
            added=len(added),
            changed=len(changed),
            removed=len(removed),
            kept=len(kept),
            skipped=loaded.skipped,
        )
        fresh = added + changed
        prepared = await asyncio.to_thread(_prepare, fresh)
        snap = self._snapshot
        covered = snap.vectors is not None and len(snap.vectors) == snap.passages
        if self.encoder:
            # Before the publishing transaction, committed chunk by chunk: the cache is keyed
            # by content, so an interrupted update keeps what it encoded and resumes there.
            unembedded = (
                []
                if covered
                else await store.passages_without_embedding(self._writer, self.encoder.key)
            )
            new = [(p.id, p.ranking_text, p.sentences) for _, ps, _ in prepared for p in ps]
            report.embedded = await self._embed(unembedded + new, progress)
        async with self._transaction():
            report.passages_removed = await store.delete_articles(
                self._writer, [a.id for a in changed] + removed
            )
            for article, passages, passage_terms in prepared:
                await store.insert_article(self._writer, article, passages, passage_terms)
                report.passages_added += len(passages)
            changed_passages = bool(fresh or removed)
            if changed_passages:
                current = await indexfiles.next_generation(self._writer)
                now = time.time()
                await store.mark_orphaned_embeddings(self._writer, now)
                await store.prune_orphaned_embeddings(self._writer, now - ORPHAN_GRACE_DAYS * 86400)
            else:
                current = await indexfiles.generation(self._writer)
            if self.encoder and (changed_passages or report.embedded or not covered):
                vectors = await self._build_vectors()
                name = await self._save("vectors", vectors, current, self.encoder.key)
                snap = dataclasses.replace(snap, vectors=vectors, vector_file=name)
            if self.config.lexical_backend == "memory" and (
                changed_passages or snap.lexical is None
            ):
                lexical_index = await self._build_lexical()
                name = await self._save("lexical", lexical_index, current)
                snap = dataclasses.replace(snap, lexical=lexical_index, lexical_file=name)
            await store.set_meta(self._writer, "indexed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
            await store.set_meta(self._writer, "analyzer", ANALYZER_VERSION)
            report.articles, report.passages = await store.counts(self._writer)
        self._snapshot = dataclasses.replace(
            snap, articles=report.articles, passages=report.passages
        )
        self._remove_stale_files()
        return report

    async def collect_garbage(self, *, everything: bool = False) -> tuple[int, int]:
        """Delete the cached vectors whose passage left the corpus more than
        ORPHAN_GRACE_DAYS ago (`everything`: all those of passages not in the index, such as
        the ones a failed update encoded); (vectors, bytes) freed."""
        if self.read_only:
            raise IndexUpdateError(f"the index in {self.config.data_dir} is open read-only")
        now = time.time()
        async with self._update_lock:
            try:
                async with self._transaction():
                    await store.mark_orphaned_embeddings(self._writer, now)
                    cutoff = None if everything else now - ORPHAN_GRACE_DAYS * 86400
                    return await store.prune_orphaned_embeddings(self._writer, cutoff)
            except sqlite3.Error as err:
                raise IndexUpdateError(f"{type(err).__name__}: {err}") from err

    async def _embed(
        self,
        passages: list[tuple[str, str, tuple[str, ...]]],
        progress: ProgressCallback | None = None,
    ) -> int:
        """Encode what the cache lacks for these (passage id, ranking text, sentences): the
        passage's vector and its sentences' vectors. Each chunk is committed, so an
        interrupted update resumes where it stopped. Returns the passages encoded."""
        assert self.encoder is not None
        encoder = self.encoder
        keys = (encoder.key, sentences.cache_key(encoder.key))
        ids = [p[0] for p in passages]
        cached = [await store.cached_embedding_ids(self._writer, key, ids) for key in keys]
        lacking = {p[0]: p for p in passages if p[0] not in cached[0] or p[0] not in cached[1]}
        todo = list(lacking.values())
        state = Progress("passages", len(todo))
        for start in range(0, len(todo), EMBED_CHUNK):
            part = todo[start : start + EMBED_CHUNK]
            bare = [p for p in part if p[0] not in cached[0]]
            vectors = await asyncio.to_thread(encoder.encode_passages, [p[1] for p in bare])
            await store.store_embeddings(self._writer, keys[0], [p[0] for p in bare], vectors)
            split = [(p[0], p[2]) for p in part if p[0] not in cached[1]]
            blobs = await asyncio.to_thread(sentences.encode, encoder, split)
            await store.store_blobs(self._writer, keys[1], [i for i, _ in split], blobs)
            state.done += len(part)
            if progress:
                progress(state)
        return len(todo)

    async def _refresh_sentences(self) -> None:
        """Load the sentence vectors of the passages now served, encoding those missing (an
        index built before they existed)."""
        if self.encoder is None or self._snapshot.vectors is None:
            self._snapshot = dataclasses.replace(self._snapshot, sentences=None)
            return
        key = sentences.cache_key(self.encoder.key)
        if not self.read_only and (
            missing := await store.passages_without_embedding(self._writer, key)
        ):
            await self._embed(missing, self._progress)
        rows = await store.embedding_blobs(self._writer, key)
        found = await asyncio.to_thread(SentenceVectors.from_blobs, rows, self.encoder.dim)
        self._snapshot = dataclasses.replace(self._snapshot, sentences=found)

    async def _build_vectors(self) -> VectorIndex:
        """The FAISS index over the cached embeddings of every passage."""
        assert self.encoder is not None
        ids, vectors = await store.all_embeddings(self._writer, self.encoder.key)
        if not len(ids):
            vectors = np.zeros((0, self.encoder.dim), dtype=np.float32)
        return await asyncio.to_thread(
            VectorIndex.build, vectors, ids, hnsw_threshold=self.config.hnsw_threshold
        )

    async def _build_lexical(self) -> Bm25Index:
        """The in-memory BM25 index over the terms in FTS5 (the caller's transaction
        included)."""
        rows = await lexical.stored_terms(self._writer)
        return await asyncio.to_thread(Bm25Index.build, rows)

    async def _save(
        self,
        kind: str,
        index: VectorIndex | Bm25Index,
        generation: int,
        model: str | None = None,
    ) -> str:
        """Write an index file under a new name and record it with its checksum, in the
        caller's transaction: until it commits, the previous file stays in force."""
        name, digest = await asyncio.to_thread(
            indexfiles.write, self.config.data_dir, kind, index.save
        )
        record = indexfiles.FileRecord(name, digest, generation, model)
        await indexfiles.set_record(self._writer, kind, record)
        return name

    def _remove_stale_files(self) -> None:
        """Index files of earlier generations (or of a failed update) are garbage."""
        if not self.read_only:
            keep = {self._snapshot.vector_file, self._snapshot.lexical_file}
            indexfiles.remove_unreferenced(self.config.data_dir, keep)

    # ---- answering --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    async def ask(self, question: str, k: int = 5) -> Answer:
        """The best `k` passages for a question, each with its answering sentence."""
        started = time.perf_counter()
        question = " ".join(question.split())
        snap = self._snapshot
        found = await self.retrieve(question, snap=snap)
        top = found.ranking[:k]
        stored = await self.passages([rowid for rowid, _ in top])
        rows = [(stored[r], score) for r, score in top if r in stored]
        hits = await asyncio.to_thread(
            retrieval.hits, question, found, rows, snap.sentences, self.profile
        )
        return Answer(
            question=question,
            answered=bool(hits) and not hits[0].weak,
            passages=hits,
            latency_ms=(time.perf_counter() - started) * 1000,
            language=detect_language(question),
        )

    async def retrieve(
        self,
        question: str,
        *,
        query_vector: np.ndarray | None = None,
        snap: Snapshot | None = None,
    ) -> retrieval.Retrieval:
        """Lexical and dense search side by side, fused.

        `query_vector` skips encoding (evaluation encodes questions in batches; benchmarks
        time retrieval without the model).
        """
        snap = snap or self._snapshot
        depth = self.fusion.depth
        (query, lex), (qvec, dense) = await asyncio.gather(
            self._lexical(question, snap, depth),
            asyncio.to_thread(self._dense, question, snap, depth, query_vector),
        )
        return await asyncio.to_thread(
            retrieval.hybrid, query, lex, qvec, dense, snap.vectors, snap.sentences, self.fusion
        )

    async def _lexical(
        self, question: str, snap: Snapshot, depth: int
    ) -> tuple[lexical.QueryTerms, Ranking]:
        own, words = question_terms(question)
        if snap.lexical is not None:
            return await asyncio.to_thread(_memory_search, snap.lexical, own, words, depth)
        async with self._reader() as conn:
            query = await lexical.fts5_query_terms(conn, own, snap.passages, words)
            return query, await lexical.fts5_search(conn, query, depth)

    def _dense(
        self, question: str, snap: Snapshot, depth: int, qvec: np.ndarray | None = None
    ) -> tuple[np.ndarray | None, Ranking]:
        if self.encoder is None or snap.vectors is None:
            return None, []
        if qvec is None:
            qvec = self.encoder.encode_queries([question])[0]
        return qvec, snap.vectors.search(qvec, depth)

    def answers(self, found: retrieval.Retrieval, passage: store.StoredPassage) -> bool:
        """Does this passage, by itself, answer the question (the profile's rule)?"""
        return self.profile.rule(found.cross).accepts(retrieval.evidence(found, passage))

    async def passages(self, rowids: list[int]) -> dict[int, store.StoredPassage]:
        async with self._reader() as conn:
            return await store.fetch_passages(conn, rowids)

    async def encode_questions(self, questions: list[str]) -> np.ndarray | None:
        """Query vectors for many questions in one model call; None without a dense index."""
        if self.encoder is None or self._snapshot.vectors is None:
            return None
        return await asyncio.to_thread(self.encoder.encode_queries, questions)

    async def passage_articles(self) -> dict[int, str]:
        """Passage row id → article id, to score rankings at article level."""
        async with (
            self._reader() as conn,
            conn.execute("SELECT rowid, article_id FROM passages") as cur,
        ):
            return {row[0]: row[1] async for row in cur}

    async def stats(self) -> IndexStats:
        snap = self._snapshot
        own = [DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", snap.vector_file, snap.lexical_file]
        paths = [self.config.data_dir / name for name in own if name]
        size = sum(p.stat().st_size for p in paths if p.exists())
        return IndexStats(
            articles=snap.articles,
            passages=snap.passages,
            model=self.encoder.description if self.encoder else None,
            vector_index=snap.vectors.kind if snap.vectors else None,
            index_bytes=size,
        )


def _memory_search(
    index: Bm25Index, own: list[str], words: tuple[lexical.Word, ...], depth: int
) -> tuple[lexical.QueryTerms, Ranking]:
    query = index.query_terms(own, words)
    return query, index.search(query, depth)


def question_terms(question: str) -> tuple[list[str], tuple[lexical.Word, ...]]:
    """A question's own terms, and for an English question each word's terms with its
    Turkish translations' (glossary.py)."""
    own = terms(question)
    if detect_language(question) != "en":
        return own, ()
    pairs = (
        (tuple(terms(word)), tuple(tuple(terms(p)) for p in phrases))
        for word, phrases in glossary.translations(question)
    )
    return own, tuple(pair for pair in pairs if pair[0])


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _prepare(articles: list[Article]) -> list[tuple[Article, list[Passage], list[str]]]:
    """Split and stem off the event loop: (article, passages, space-joined terms per passage)."""
    out = []
    for article in articles:
        passages = split_article(article)
        out.append((article, passages, [" ".join(terms(p.ranking_text)) for p in passages]))
    return out


def is_mass_deletion(removing: int, total: int) -> bool:
    """Whether removing `removing` of `total` indexed articles needs confirmation: more than
    MAX_REMOVED_SHARE of them, except in a tiny index, which may lose up to SMALL_REMOVAL
    articles as long as one remains (removing 1 of 2, or 3 of 4, is an edit; all is not)."""
    if removing <= MAX_REMOVED_SHARE * total:
        return False
    return removing == total or removing > SMALL_REMOVAL


def _check_folder(database: Path, read_only: bool) -> None:
    """Fail early, in one line, where SQLite would fail obscurely (or hang, see `close`)."""
    folder = database.parent
    if read_only:
        if not database.is_file():
            raise IndexOpenError(_not_built_read_only(folder))
        return
    if not indexfiles.writable(database):
        raise IndexOpenError(
            f"the index folder {folder} cannot be written (read-only or no permission):"
            " make it writable, or use another folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise IndexOpenError(f"cannot create the index folder {folder}: {err.strerror}") from err


def _not_built_read_only(folder: Path) -> str:
    return (
        f"there is no index in {folder}, and it cannot be built there (read-only):"
        " build it in a folder that can be written"
    )


def _damaged_database(database: Path, problem: str) -> str:
    return (
        f"the index database {database} is damaged ({problem}): move it away, with its -wal"
        " and -shm files, and index again to rebuild it from the corpus folder"
    )
