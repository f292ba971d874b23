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
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
import numpy as np

from embeddings import lexical, store
from embeddings.answer import Answer, Hit, best_sentence, is_strong
from embeddings.config import EngineConfig
from embeddings.corpus import Article, LoadResult, Skipped, load_corpus
from embeddings.encoder import Encoder, load_encoder
from embeddings.fusion import Ranking, fuse
from embeddings.lexical import Bm25Index
from embeddings.progress import Progress, ProgressCallback
from embeddings.splitter import Passage, split_article
from embeddings.text import ANALYZER_VERSION, detect_language, focus_terms, terms
from embeddings.vectors import VectorIndex

log = logging.getLogger(__name__)

DB_NAME = "qabot.sqlite3"
EMBED_CHUNK = 512  # passages encoded, then committed to the embedding cache, at a time
MODEL_HIGHLIGHTS = 3  # passages whose highlight the model may choose (it encodes sentences)
_NO_ENCODER = object()


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
class Rankings:
    """Per-question rankings of passage row ids, for evaluation."""

    lexical: Ranking
    dense: Ranking
    fused: Ranking


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
    ) -> None:
        self.config = config
        self.encoder = encoder
        self._writer = writer
        self._reader_list = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._snapshot = Snapshot(None, None, None, None, 0, 0)
        self._update_lock = asyncio.Lock()
        profile = encoder.profile if encoder else None
        self.min_similarity = config.min_similarity or (profile.min_similarity if profile else 1.0)
        self.fusion = dataclasses.replace(
            config.fusion,
            dense_weight=_first(config.fusion.dense_weight, profile and profile.dense_weight),
            dense_weight_cross=_first(
                config.fusion.dense_weight_cross, profile and profile.dense_weight_cross
            ),
        )

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    async def open(
        cls, config: EngineConfig, encoder: Encoder | object | None = _NO_ENCODER
    ) -> Engine:
        """Open (creating if needed) the index in `config.data_dir` and load the model.

        Pass `encoder` to share an already loaded model (evaluation, benchmarks).
        """
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if encoder is _NO_ENCODER:
            encoder = await asyncio.to_thread(
                load_encoder,
                config.model,
                timeout=config.model_load_timeout,
                batch_size=config.batch_size,
            )
        db = str(config.data_dir / DB_NAME)
        writer = await store.connect(db)
        readers = [
            await store.connect(db, readonly=True) for _ in range(max(1, config.reader_connections))
        ]
        engine = cls(config, encoder, writer, readers)  # type: ignore[arg-type]
        await engine._load_snapshot()
        return engine

    async def close(self) -> None:
        for conn in (*self._reader_list, self._writer):
            await conn.close()

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
        """Reload the saved indexes; rebuild what is missing or stale from the database
        (vectors from the embedding cache: nothing is re-embedded that was embedded before)."""
        articles, passages = await store.counts(self._writer)
        # The saved files stay on disk even when this run does not use them (no model, or
        # the FTS5 backend): a later run with them rebuilds nothing.
        vectors, vector_file = None, await store.get_meta(self._writer, "vector_file")
        if self.encoder and passages:
            saved_model = await store.get_meta(self._writer, "vector_model")
            path = self.config.data_dir / vector_file if vector_file else None
            if path and path.exists() and saved_model == self.encoder.name:
                vectors = await asyncio.to_thread(VectorIndex.load, path)
        lexical_index, lexical_file = None, await store.get_meta(self._writer, "lexical_file")
        if self.config.lexical_backend == "memory":
            path = self.config.data_dir / lexical_file if lexical_file else None
            if path and path.exists():
                lexical_index = await asyncio.to_thread(Bm25Index.load, path)
        stale_vectors = (
            self.encoder is not None and passages and (vectors is None or len(vectors) != passages)
        )
        stale_lexical = self.config.lexical_backend == "memory" and (
            lexical_index is None or len(lexical_index) != passages
        )
        if stale_vectors or stale_lexical:
            log.info("Saved index missing or stale; rebuilding it from the database.")
            if stale_vectors:
                await self._embed(
                    await store.passages_without_embedding(self._writer, self.encoder.name)
                )
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                if stale_vectors:
                    vectors, vector_file = await self._build_vectors()
                if stale_lexical:
                    lexical_index, lexical_file = await self._build_lexical()
                await self._writer.execute("COMMIT")
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
        self._snapshot = Snapshot(
            vectors, vector_file, lexical_index, lexical_file, articles, passages
        )
        self._remove_stale_files()

    # ---- indexing ---------------------------------------------------------------------

    async def update(
        self, corpus_dir: Path | None = None, *, progress: ProgressCallback | None = None
    ) -> UpdateReport:
        """Bring the index in line with the corpus folder, touching only what changed.

        `progress` is called after each encoded chunk (on the event loop's thread).
        """
        started = time.perf_counter()
        loaded = await asyncio.to_thread(load_corpus, corpus_dir or self.config.corpus_dir)
        return await self.apply(loaded, started=started, progress=progress)

    async def apply(
        self,
        loaded: LoadResult,
        *,
        started: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> UpdateReport:
        """Make the index hold exactly `loaded` (articles of failed files are kept)."""
        started = started or time.perf_counter()
        async with self._update_lock:
            try:
                report = await self._apply(loaded, progress)
            except Exception as err:
                log.exception("Index update failed; the previous index keeps serving.")
                raise IndexUpdateError(f"{type(err).__name__}: {err}") from err
        report.seconds = time.perf_counter() - started
        return report

    async def _apply(
        self, loaded: LoadResult, progress: ProgressCallback | None = None
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
                else await store.passages_without_embedding(self._writer, self.encoder.name)
            )
            new = [(p.id, p.ranking_text) for _, passages, _ in prepared for p in passages]
            report.embedded = await self._embed(unembedded + new, progress)
        await self._writer.execute("BEGIN IMMEDIATE")
        try:
            report.passages_removed = await store.delete_articles(
                self._writer, [a.id for a in changed] + removed
            )
            for article, passages, passage_terms in prepared:
                await store.insert_article(self._writer, article, passages, passage_terms)
                report.passages_added += len(passages)
            vectors, vector_file = snap.vectors, snap.vector_file
            lexical_index, lexical_file = snap.lexical, snap.lexical_file
            changed_passages = bool(fresh or removed)
            if self.encoder and (changed_passages or report.embedded or not covered):
                await store.prune_embeddings(self._writer, self.encoder.name)
                vectors, vector_file = await self._build_vectors()
            if self.config.lexical_backend == "memory" and (
                changed_passages or lexical_index is None
            ):
                lexical_index, lexical_file = await self._build_lexical()
            await store.set_meta(self._writer, "indexed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
            await store.set_meta(self._writer, "analyzer", ANALYZER_VERSION)
            report.articles, report.passages = await store.counts(self._writer)
            await self._writer.execute("COMMIT")
        except BaseException:
            await self._writer.execute("ROLLBACK")
            raise
        self._snapshot = Snapshot(
            vectors, vector_file, lexical_index, lexical_file, report.articles, report.passages
        )
        self._remove_stale_files()
        return report

    async def _embed(
        self, passages: list[tuple[str, str]], progress: ProgressCallback | None = None
    ) -> int:
        """Encode and cache the (passage id, ranking text) pairs the cache lacks, committing
        each chunk; the number encoded."""
        assert self.encoder is not None
        model = self.encoder.name
        cached = await store.cached_embedding_ids(self._writer, model, [i for i, _ in passages])
        missing = list({i: t for i, t in passages if i not in cached}.items())
        state = Progress("passages", len(missing))
        for start in range(0, len(missing), EMBED_CHUNK):
            part = missing[start : start + EMBED_CHUNK]
            vectors = await asyncio.to_thread(self.encoder.encode_passages, [t for _, t in part])
            await store.store_embeddings(self._writer, model, [i for i, _ in part], vectors)
            state.done += len(part)
            if progress:
                progress(state)
        return len(missing)

    async def _build_vectors(self) -> tuple[VectorIndex, str]:
        """Build the FAISS index from cached embeddings and save it under a new name.

        The file is only referenced by the database once the caller commits, so a crash
        before that leaves the previous index in force.
        """
        assert self.encoder is not None
        ids, vectors = await store.all_embeddings(self._writer, self.encoder.name)
        if not len(ids):
            vectors = np.zeros((0, self.encoder.dim), dtype=np.float32)
        index = await asyncio.to_thread(
            VectorIndex.build, vectors, ids, hnsw_threshold=self.config.hnsw_threshold
        )
        name = f"vectors-{time.time_ns()}.faiss"
        await asyncio.to_thread(index.save, self.config.data_dir / name)
        await store.set_meta(self._writer, "vector_file", name)
        await store.set_meta(self._writer, "vector_model", self.encoder.name)
        return index, name

    async def _build_lexical(self) -> tuple[Bm25Index, str]:
        """Build the in-memory BM25 index from the terms in FTS5 (the caller's transaction
        included) and save it under a new name, referenced once the caller commits."""
        rows = await lexical.stored_terms(self._writer)
        index = await asyncio.to_thread(Bm25Index.build, rows)
        name = f"lexical-{time.time_ns()}.npz"
        await asyncio.to_thread(index.save, self.config.data_dir / name)
        await store.set_meta(self._writer, "lexical_file", name)
        return index, name

    def _remove_stale_files(self) -> None:
        """Index files of earlier generations (or of a failed update) are garbage."""
        current = {self._snapshot.vector_file, self._snapshot.lexical_file}
        for pattern in ("vectors-*.faiss*", "lexical-*.npz*"):
            for path in self.config.data_dir.glob(pattern):
                if path.name not in current:
                    path.unlink(missing_ok=True)

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
        query, qvec, fused = await self.retrieve(question, max(self.fusion.depth, k), snap=snap)
        stored = await self.passages([rowid for rowid, _ in fused[:k]])
        rows = [(stored[r], score) for r, score in fused[:k] if r in stored]
        hits = await asyncio.to_thread(self._hits, question, rows, query, qvec, snap)
        return Answer(
            question=question,
            answered=any(not hit.weak for hit in hits),
            passages=hits,
            latency_ms=(time.perf_counter() - started) * 1000,
            language=detect_language(question),
        )

    async def retrieve(
        self,
        question: str,
        depth: int,
        *,
        query_vector: np.ndarray | None = None,
        snap: Snapshot | None = None,
    ) -> tuple[lexical.QueryTerms, np.ndarray | None, Ranking]:
        """Lexical and dense search side by side, fused: (query terms, query vector, ranking).

        `query_vector` skips encoding (benchmarks time retrieval without the model).
        """
        snap = snap or self._snapshot
        (query, lex), (qvec, dense) = await asyncio.gather(
            self._lexical(question, snap, depth),
            asyncio.to_thread(self._dense, question, snap, depth, query_vector),
        )
        return query, qvec, fuse(lex, dense, self.fusion, query.vocabulary_coverage)

    async def _lexical(
        self, question: str, snap: Snapshot, depth: int
    ) -> tuple[lexical.QueryTerms, Ranking]:
        if snap.lexical is not None:
            return await asyncio.to_thread(_memory_search, snap.lexical, question, depth)
        async with self._reader() as conn:
            query = await lexical.fts5_query_terms(conn, terms(question), snap.passages)
            return query, await lexical.fts5_search(conn, query, depth)

    def _dense(
        self, question: str, snap: Snapshot, depth: int, qvec: np.ndarray | None = None
    ) -> tuple[np.ndarray | None, Ranking]:
        if self.encoder is None or snap.vectors is None:
            return None, []
        if qvec is None:
            qvec = self.encoder.encode_queries([question])[0]
        return qvec, snap.vectors.search(qvec, depth)

    def _hits(
        self,
        query_text: str,
        rows: list[tuple[store.StoredPassage, float]],
        query: lexical.QueryTerms,
        qvec: np.ndarray | None,
        snap: Snapshot,
    ) -> list[Hit]:
        sentence_sims: list[np.ndarray | None] = [None] * len(rows)
        # Words of the question in the passage pick its answering sentence well; when they
        # are not in the corpus (another language) only the model can, for the top passages.
        if qvec is not None and self.encoder is not None and query.vocabulary_coverage < 0.5:
            top = rows[:MODEL_HIGHLIGHTS]
            flat = [s for p, _ in top for s in p.sentences]
            sims = self.encoder.encode_passages(flat) @ qvec
            offset = 0
            for i, (p, _) in enumerate(top):
                sentence_sims[i] = sims[offset : offset + len(p.sentences)]
                offset += len(p.sentences)
        focus = focus_terms(query_text)
        hits = []
        for (p, score), sims in zip(rows, sentence_sims, strict=True):
            coverage, similarity, strong = self.judge(query, qvec, p, snap)
            hits.append(
                Hit(
                    passage_id=p.id,
                    article_id=p.article_id,
                    text=p.text,
                    highlight=best_sentence(p.sentences, query, sims, focus),
                    score=score,
                    title=p.title,
                    source_url=p.source_url,
                    date=p.date,
                    coverage=coverage,
                    similarity=similarity,
                    weak=not strong,
                )
            )
        return hits

    def judge(
        self,
        query: lexical.QueryTerms,
        qvec: np.ndarray | None,
        passage: store.StoredPassage,
        snap: Snapshot | None = None,
    ) -> tuple[float, float | None, bool]:
        """(coverage, similarity, strong): does this passage by itself answer the question?"""
        vectors = (snap or self._snapshot).vectors
        coverage = query.coverage(set(terms(passage.ranking_text)))
        similarity = None
        if qvec is not None and vectors is not None:
            similarity = vectors.similarity(qvec, passage.rowid)
        strong = is_strong(coverage, similarity, self.config.min_coverage, self.min_similarity)
        return coverage, similarity, strong

    async def passages(self, rowids: list[int]) -> dict[int, store.StoredPassage]:
        async with self._reader() as conn:
            return await store.fetch_passages(conn, rowids)

    async def encode_questions(self, questions: list[str]) -> np.ndarray | None:
        """Query vectors for many questions in one model call; None without a dense index."""
        if self.encoder is None or self._snapshot.vectors is None:
            return None
        return await asyncio.to_thread(self.encoder.encode_queries, questions)

    async def rankings(
        self, questions: list[str], qvecs: np.ndarray | None, depth: int = 100
    ) -> list[Rankings]:
        """Lexical, dense and fused rankings for many questions (`encode_questions` vectors)."""
        snap = self._snapshot
        out = []
        for i, question in enumerate(questions):
            query, lex = await self._lexical(question, snap, depth)
            dense = snap.vectors.search(qvecs[i], depth) if qvecs is not None else []
            fused = fuse(lex, dense, self.fusion, query.vocabulary_coverage)
            out.append(Rankings(lex, dense, fused))
        return out

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
            model=self.model_name,
            vector_index=snap.vectors.kind if snap.vectors else None,
            index_bytes=size,
        )


def _memory_search(
    index: Bm25Index, question: str, depth: int
) -> tuple[lexical.QueryTerms, Ranking]:
    query = index.query_terms(terms(question))
    return query, index.search(query, depth)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _prepare(articles: list[Article]) -> list[tuple[Article, list[Passage], list[str]]]:
    """Split and stem off the event loop: (article, passages, space-joined terms per passage)."""
    out = []
    for article in articles:
        passages = split_article(article)
        out.append((article, passages, [" ".join(terms(p.ranking_text)) for p in passages]))
    return out
