"""The question path: one question against the current snapshot, lexical and dense search
side by side, fused, with the answering sentences highlighted.

Every question reads one `Snapshot` from start to end: an update published meanwhile is
seen by the next question, never half by this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np

from embeddings import glossary, lexical, news, retrieval, store, timewords
from embeddings.answer import Answer, Declined, Hit
from embeddings.fusion import Ranking
from embeddings.segments import Snapshot
from embeddings.text import detect_language, terms

if TYPE_CHECKING:
    import aiosqlite

    from embeddings.config import FusionConfig
    from embeddings.encoders import Encoder
    from embeddings.encoders.profiles import ModelProfile

# A question with a time preference ("en son", "haziran ayında") reorders the answering
# passages among this many distinct stories.
PREFERRED_AMONG = 10
ATTEMPTS = 3  # a question asked again when an update was published while it was answered
FACTS_FIRST = 16  # candidates whose stories and dates are read first


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

    async def ask(self, question: str, k: int = 5, *, as_of: dt.date | None = None) -> Answer:
        """The best `k` passages for a question, one per story, each with its answering
        sentence and the story's other outlets.

        Time words are read against `as_of` (default: today); with `as_of` given, articles
        published after it are not used, as a reader on that day would not have had them.
        """
        started = time.perf_counter()
        question = " ".join(question.split())
        for attempt in range(ATTEMPTS):
            snap = self._snapshot
            hits, declined, whole = await self._answer(question, k, as_of, snap)
            if whole and snap is self._snapshot:
                break
            # An update was published while this question was being answered: its passages
            # were read from the database as it is now, the ranking from the snapshot before.
            await asyncio.sleep(0.01 * attempt)
        return Answer(
            question=question,
            answered=bool(hits) and not hits[0].weak,
            passages=hits,
            latency_ms=(time.perf_counter() - started) * 1000,
            language=detect_language(question),
            declined=declined,
        )

    async def _answer(
        self, question: str, k: int, as_of: dt.date | None, snap: Snapshot
    ) -> tuple[list[Hit], Declined | None, bool]:
        """The hits from one snapshot, the decline if any, and whether every passage the
        snapshot ranked was still in the database (False: an update removed some since)."""
        found, plan = await asyncio.gather(
            self.retrieve(question, snap=snap), self._plan(question, as_of)
        )
        if plan.declined:
            return [], Declined(*plan.period, plan.latest), True
        prefer = plan.preference()
        top, whole = await self._eligible(
            found.ranking, plan, k if prefer is None else max(k, PREFERRED_AMONG)
        )
        stored = await self.passages([rowid for rowid, _ in top])
        rows = [(stored[r], score) for r, score in top if r in stored]
        hits = await asyncio.to_thread(
            retrieval.hits, question, found, rows, snap.sentences, self.profile, prefer
        )
        hits = await self._with_copies(hits[:k], plan)
        return hits, None, whole and len(rows) == len(top)

    async def _plan(self, question: str, as_of: dt.date | None) -> news.Plan:
        """The question's time words, and whether it asks about a period no article was
        published in: indexed lookups, no article text."""
        plan = news.Plan(timewords.parse(question, as_of or dt.date.today()), as_of)
        if plan.when is None:
            return plan
        async with self._reader() as conn:
            plan.latest = await store.latest_published(conn, as_of)
            if plan.strict:
                start, end = plan.period
                plan.declined = not await store.published_between(
                    conn, start or dt.date.min, end or dt.date.max
                )
        return plan

    async def _eligible(
        self, ranking: Ranking, plan: news.Plan, count: int
    ) -> tuple[Ranking, bool]:
        """The first `count` eligible candidates, one per story (`news.Plan.eligible`),
        their articles' facts read for as few candidates as that takes: a first slice,
        then the rest when stories repeat or a period excludes many (1 ms for all 100 of a
        lexical ranking at 100k passages, a fifth of that for 16). False with them when a
        candidate was no longer in the database (removed by an update since the snapshot)."""
        done, size, whole = 0, max(2 * count, FACTS_FIRST), True
        while True:
            part = [rowid for rowid, _ in ranking[done : done + size]]
            async with self._reader() as conn:
                plan.facts |= await store.news_facts(conn, part)
            whole = whole and all(rowid in plan.facts for rowid in part)
            done += len(part)
            top = plan.eligible(ranking[:done])
            if len(top) >= count or done >= len(ranking):
                return top[:count], whole
            size = len(ranking) - done

    async def _with_copies(self, hits: list[Hit], plan: news.Plan) -> list[Hit]:
        """Each hit with the other articles of its story (not after the reader's date)."""
        story = {f.article_id: f.story for f in plan.facts.values()}
        async with self._reader() as conn:
            copies = await store.story_copies(conn, [story[h.article_id] for h in hits], plan.as_of)
        return [
            dataclasses.replace(
                hit,
                also=tuple(
                    c
                    for c in copies.get(story[hit.article_id], ())
                    if c.article_id != hit.article_id
                ),
            )
            for hit in hits
        ]

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
        return self.profile.rule(found.foreign).accepts(retrieval.evidence(found, passage))

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
