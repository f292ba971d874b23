"""BM25 over Turkish-stemmed terms: two interchangeable backends with the same scores.

Terms are produced in Python (`embeddings.text.terms`) and stored space-separated in SQLite
FTS5, which is the durable store. Scoring a question there walks every posting of every
query term through FTS5's `bm25()` (67 ms at 100k passages, see README), so the engine
serves from `Bm25Index`: the same formula over numpy postings arrays held in memory, built
from the FTS5 rows and saved next to the database. `fts5_search` remains as the reference
and fallback backend; tests check that both rank alike.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import aiosqlite
import numpy as np

K1 = 1.2  # FTS5's bm25() constants
B = 0.75
IDF_FLOOR = 1e-6


# One word of a question asked in another language: its own terms, and its translations'
# terms (each translation a tuple). The word is matched when either is in the passage.
Word = tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms with their document frequencies in the index."""

    terms: tuple[str, ...]
    df: dict[str, int]
    total: int  # passages in the index
    words: tuple[Word, ...] = ()  # a translated question's words and their translations

    @property
    def translated(self) -> frozenset[str]:
        """Terms only a translation of the question has."""
        own = {t for terms, _ in self.words for t in terms}
        return frozenset(t for _, alternatives in self.words for a in alternatives for t in a) - own

    def idf(self, term: str) -> float:
        """BM25's IDF, floored above zero; a term absent from the index weighs the most."""
        n = self.df.get(term, 0)
        return max(math.log((self.total - n + 0.5) / (n + 0.5) + 1.0), IDF_FLOOR)

    @cached_property
    def _idfs(self) -> dict[str, float]:
        """The question's IDFs, computed once: coverage is asked of every candidate sentence."""
        return {t: self.idf(t) for t in self.terms}

    def _weight(self, term: str, boost: frozenset[str]) -> float:
        idf = self._idfs[term] if term in self._idfs else self.idf(term)
        return idf * 2.0 if term in boost else idf

    @property
    def vocabulary_coverage(self) -> float:
        """Share of the question's own IDF weight (its translation aside) found anywhere in
        the index: near 1 for a question in the corpus language, near 0 for another."""
        own = [t for t in self.terms if t not in self.translated]
        return self._share(own, set(self.df), frozenset())

    def coverage(self, passage_terms: set[str], boost: frozenset[str] = frozenset()) -> float:
        """Share of the question's IDF weight that a passage contains (`boost` terms count
        double). A translated question's word counts as found when its own terms or one of
        its translations are: alternative renderings do not dilute each other."""
        if not self.words:
            return self._share(self.terms, passage_terms, boost)
        found = total = 0.0
        for own, alternatives in self.words:
            weight = sum(self._weight(t, boost) for t in own)
            share = max(
                (self._share(terms, passage_terms, boost) for terms in (own, *alternatives)),
                default=0.0,
            )
            found += weight * share
            total += weight
        return found / total if total else 0.0

    def _share(
        self, terms: list[str] | tuple[str, ...], found: set[str], boost: frozenset[str]
    ) -> float:
        weights = {t: self._weight(t, boost) for t in terms}
        total = sum(weights.values())
        if total == 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in found) / total

    def matchable(self) -> list[str]:
        """The terms to match on. Terms in more than half the passages have (floored) zero
        IDF in FTS5's BM25, so they are left out: the same ranking among passages that match
        anything else, and far fewer postings to walk."""
        present = [t for t in self.terms if self.df.get(t, 0) > 0]
        return [t for t in present if self.df[t] <= self.total / 2] or present


def distinct_terms(own: list[str], words: tuple[Word, ...]) -> tuple[str, ...]:
    translations = [t for _, alternatives in words for a in alternatives for t in a]
    return tuple(dict.fromkeys([*own, *translations]))


class Bm25Index:
    """FTS5's BM25 over in-memory postings: per term, the passages holding it and their
    precomputed term-frequency factor, so a question costs one vectorised add per term."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        indptr: np.ndarray,
        docs: np.ndarray,
        weights: np.ndarray,
        rowids: np.ndarray,
    ) -> None:
        self.vocabulary = vocabulary
        self.indptr = indptr  # postings of term t: docs[indptr[t]:indptr[t + 1]]
        self.docs = docs  # positions into rowids (int32)
        self.weights = weights  # tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)) (float32)
        self.rowids = rowids  # passage row ids (int64)

    def __len__(self) -> int:
        return len(self.rowids)

    @classmethod
    def build(cls, rows: list[tuple[int, str]]) -> Bm25Index:
        """From (row id, space-separated terms) pairs, as stored in FTS5."""
        vocabulary: dict[str, int] = {}
        term_ids, docs, freqs = [], [], []
        lengths = np.zeros(len(rows), dtype=np.float32)
        for position, (_, text) in enumerate(rows):
            tokens = text.split()
            lengths[position] = len(tokens)
            counts = Counter(tokens)
            term_ids.append(
                np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in counts), np.int32)
            )
            freqs.append(np.fromiter(counts.values(), np.float32, count=len(counts)))
            docs.append(np.full(len(counts), position, dtype=np.int32))
        rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        if not rows:
            empty = np.zeros(0, dtype=np.int32)
            return cls({}, np.zeros(1, np.int64), empty, np.zeros(0, np.float32), rowids)
        all_terms = np.concatenate(term_ids)
        order = np.argsort(all_terms, kind="stable")
        doc_of = np.concatenate(docs)[order]
        tf = np.concatenate(freqs)[order]
        average = max(float(lengths.mean()), 1e-9)
        norm = K1 * (1 - B + B * lengths[doc_of] / average)
        weights = (tf * (K1 + 1) / (tf + norm)).astype(np.float32)
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(all_terms, minlength=len(vocabulary)), out=indptr[1:])
        return cls(vocabulary, indptr, doc_of, weights, rowids)

    def query_terms(self, terms: list[str], words: tuple[Word, ...] = ()) -> QueryTerms:
        """A question's terms with their document frequencies; `words` pair a translated
        question's words with their translations (whose terms match too, but do not make it
        a corpus-language question)."""
        distinct = distinct_terms(terms, words)
        df = {}
        for term in distinct:
            if (t := self.vocabulary.get(term)) is not None:
                df[term] = int(self.indptr[t + 1] - self.indptr[t])
        return QueryTerms(distinct, df, len(self), words)

    def search(self, query: QueryTerms, depth: int) -> list[tuple[int, float]]:
        """(row id, BM25 score) pairs, best first: the ranking `fts5_search` gives."""
        scores = np.zeros(len(self), dtype=np.float32)
        for term in query.matchable():
            t = self.vocabulary[term]
            start, end = self.indptr[t], self.indptr[t + 1]
            n = end - start
            idf = max(math.log((len(self) - n + 0.5) / (n + 0.5)), IDF_FLOOR)
            scores[self.docs[start:end]] += np.float32(idf) * self.weights[start:end]
        hits = np.flatnonzero(scores)
        if len(hits) > depth:
            hits = hits[np.argpartition(scores[hits], -depth)[-depth:]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(self.rowids[i]), float(scores[i])) for i in hits]

    def save(self, path: Path) -> None:
        """Plain write (to an open file: `np.savez` would append ".npz" to a temp name);
        `indexfiles.write` makes it atomic and checksums it."""
        terms = np.array(sorted(self.vocabulary, key=self.vocabulary.__getitem__), dtype=str)
        with open(path, "wb") as fh:
            np.savez(
                fh,
                terms=terms,
                indptr=self.indptr,
                docs=self.docs,
                weights=self.weights,
                rowids=self.rowids,
            )

    @classmethod
    def load(cls, path: Path) -> Bm25Index:
        """Raises ValueError for arrays that `build` cannot have made (see `check`)."""
        with np.load(path, allow_pickle=False) as data:
            vocabulary = {str(term): i for i, term in enumerate(data["terms"])}
            index = cls(vocabulary, data["indptr"], data["docs"], data["weights"], data["rowids"])
        index.check()
        return index

    def check(self) -> None:
        """Raise ValueError unless the arrays are consistent: a damaged file would otherwise
        fail every question (doc ids out of range) or rank silently wrong (row ids out of
        order, weights that are not finite)."""
        problems = {
            "types": (
                self.indptr.dtype != np.int64
                or self.docs.dtype != np.int32
                or self.weights.dtype != np.float32
                or self.rowids.dtype != np.int64
            ),
            "postings offsets": (
                self.indptr.shape != (len(self.vocabulary) + 1,)
                or self.indptr[0] != 0
                or self.indptr[-1] != len(self.docs)
                or bool(np.any(np.diff(self.indptr) < 0))
            ),
            "weights": (
                self.weights.shape != self.docs.shape
                or not bool(np.all(np.isfinite(self.weights) & (self.weights > 0)))
            ),
            "doc ids": (
                len(self.docs) > 0
                and (int(self.docs.min()) < 0 or int(self.docs.max()) >= len(self.rowids))
            ),
            "row ids": self.rowids.ndim != 1 or bool(np.any(np.diff(self.rowids) <= 0)),
        }
        bad = [name for name, wrong in problems.items() if wrong]
        if bad:
            raise ValueError("inconsistent BM25 arrays: " + ", ".join(bad))


async def stored_terms(conn: aiosqlite.Connection) -> list[tuple[int, str]]:
    """Every passage's (row id, terms) from FTS5, what `Bm25Index.build` takes."""
    async with conn.execute("SELECT rowid, terms FROM passages_fts ORDER BY rowid") as cur:
        return [(int(r[0]), r[1]) async for r in cur]


async def fts5_query_terms(
    conn: aiosqlite.Connection, terms: list[str], total: int, words: tuple[Word, ...] = ()
) -> QueryTerms:
    distinct = distinct_terms(terms, words)
    df: dict[str, int] = {}
    if distinct:
        marks = ",".join("?" * len(distinct))
        sql = f"SELECT term, doc FROM passages_vocab WHERE term IN ({marks})"
        async with conn.execute(sql, distinct) as cur:
            df = {row[0]: int(row[1]) async for row in cur}
    return QueryTerms(distinct, df, total, words)


async def fts5_search(
    conn: aiosqlite.Connection, query: QueryTerms, depth: int
) -> list[tuple[int, float]]:
    """(row id, BM25 score) pairs, best first, scored by SQLite FTS5 itself."""
    useful = query.matchable()
    if not useful:
        return []
    match = " OR ".join(f'"{t}"' for t in useful)
    sql = (
        "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
        " ORDER BY rank LIMIT ?"
    )
    async with conn.execute(sql, (match, depth)) as cur:
        return [(int(r[0]), float(r[1])) async for r in cur]
