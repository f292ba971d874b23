"""The question path: one question against the current snapshot, lexical and dense search
side by side, fused, with the answering sentences highlighted.

Every question reads one `Snapshot` from start to end: an update published meanwhile is
seen by the next question, never half by this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np

from embeddings import glossary, lexical, retrieval, store
from embeddings.answer import Answer
from embeddings.fusion import Ranking
from embeddings.segments import Snapshot
from embeddings.text import detect_language, terms

if TYPE_CHECKING:
    import aiosqlite

    from embeddings.config import FusionConfig
    from embeddings.encoders import Encoder
    from embeddings.encoders.profiles import ModelProfile


class Asker:
    """The engine's question path (mixed into `Engine`)."""

    encoder: Encoder | None
    fusion: FusionConfig
    profile: ModelProfile
    _snapshot: Snapshot
    _readers: asyncio.Queue[aiosqlite.Connection]

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


def _memory_search(
    index: lexical.Bm25Segments, own: list[str], words: tuple[lexical.Word, ...], depth: int
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
