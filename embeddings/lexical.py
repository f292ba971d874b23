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
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import aiosqlite
import numpy as np

K1 = 1.2  # FTS5's bm25() constants
B = 0.75
IDF_FLOOR = 1e-6
MAX_TF = np.iinfo(np.uint16).max  # a term's count in one passage is stored capped at this


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


@dataclass(frozen=True)
class Postings:
    """A batch of passages' term counts with a vocabulary of its own: the part of building a
    BM25 segment that can run on another core, before the batches' vocabularies are joined
    (`Bm25Index.from_postings`). Entries are in passage order."""

    vocabulary: list[str]  # term of each local id, by id
    terms: np.ndarray  # local term id per entry (int32)
    docs: np.ndarray  # passage position in the batch per entry (int32)
    tf: np.ndarray  # the term's count in that passage (uint16, capped)
    lengths: np.ndarray  # terms per passage (int32)

    @classmethod
    def count(cls, passages: list[list[str]]) -> Postings:
        """From each passage's terms: one pass of dictionary lookups over every token."""
        vocabulary: dict[str, int] = {}
        lookup = vocabulary.setdefault
        ids = [lookup(t, len(vocabulary)) for doc in passages for t in doc]
        return cls.of_ids(list(vocabulary), ids, [len(doc) for doc in passages])

    @classmethod
    def of_ids(cls, vocabulary: list[str], ids: list[int], lengths: list[int]) -> Postings:
        """From every passage's term ids (into `vocabulary`) one after another, and each
        passage's number of terms. A passage's term counts come from sorting (passage, term)
        keys in numpy, not from a Counter per passage."""
        tokens = np.array(ids, dtype=np.int64)
        counts = np.array(lengths, dtype=np.int64)
        docs = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        width = max(len(vocabulary), 1)
        keys, tf = np.unique(docs * width + tokens, return_counts=True)
        return cls(
            vocabulary,
            (keys % width).astype(np.int32),
            (keys // width).astype(np.int32),
            np.minimum(tf, MAX_TF).astype(np.uint16),
            counts.astype(np.int32),
        )


class Bm25Index:
    """One segment's BM25 postings: per term, the passages holding it and the term's count
    there, with each passage's length. Raw counts, not BM25 weights: the average length and
    the document frequencies are those of every live passage of every segment, so the
    weights are computed at question time (`Bm25Segments`) and stay exact as segments come
    and go."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        indptr: np.ndarray,
        docs: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        rowids: np.ndarray,
    ) -> None:
        self.vocabulary = vocabulary
        self.indptr = indptr  # postings of term t: docs[indptr[t]:indptr[t + 1]]
        self.docs = docs  # positions into rowids (int32)
        self.tf = tf  # the term's count in that passage (uint16)
        self.lengths = lengths  # terms per passage (int32)
        self.rowids = rowids  # passage row ids, ascending (int64)

    def __len__(self) -> int:
        return len(self.rowids)

    @classmethod
    def build(cls, rows: list[tuple[int, str]]) -> Bm25Index:
        """From (row id, space-separated terms) pairs, as stored in FTS5, by row id."""
        if not rows:
            return cls.empty()
        rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        return cls.from_postings([Postings.count([text.split() for _, text in rows])], rowids)

    @classmethod
    def from_postings(cls, parts: list[Postings], rowids: np.ndarray) -> Bm25Index:
        """One segment from the postings of consecutive batches of passages (counted on
        several cores in a first build), given their row ids in order: what `build` gives
        for the same passages, the vocabulary numbered in order of first appearance."""
        if not len(rowids):
            return cls.empty()
        vocabulary: dict[str, int] = {}
        lookup = vocabulary.setdefault
        term_of, docs = [], []
        offset = 0
        for part in parts:
            mapping = np.fromiter(
                (lookup(t, len(vocabulary)) for t in part.vocabulary),
                np.int32,
                count=len(part.vocabulary),
            )
            term_of.append(mapping[part.terms])
            docs.append(part.docs + offset)
            offset += len(part.lengths)
        if offset != len(rowids):
            raise ValueError(f"{offset} passages counted for {len(rowids)} row ids")
        return cls._sorted(
            vocabulary,
            np.concatenate(term_of),
            np.concatenate(docs),
            np.concatenate([p.tf for p in parts]),
            np.concatenate([p.lengths for p in parts]),
            rowids,
            by_passage=True,
        )

    @classmethod
    def empty(cls) -> Bm25Index:
        return cls(
            {},
            np.zeros(1, np.int64),
            np.zeros(0, np.int32),
            np.zeros(0, np.uint16),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
        )

    @classmethod
    def _sorted(
        cls,
        vocabulary: dict[str, int],
        term_of: np.ndarray,
        docs: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        rowids: np.ndarray,
        *,
        by_passage: bool = False,
    ) -> Bm25Index:
        """Postings grouped by term, each term's in passage order (`by_passage`: they come
        in passage order already, so a stable sort by term keeps it)."""
        if by_passage:
            # numpy's stable sort is a radix sort for 16-bit keys: five times timsort's speed
            small = len(vocabulary) <= 1 << 16
            order = np.argsort(term_of.astype(np.uint16) if small else term_of, kind="stable")
        else:
            order = np.lexsort((docs, term_of))
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_of, minlength=len(vocabulary)), out=indptr[1:])
        counts = np.minimum(tf[order], MAX_TF).astype(np.uint16)
        return cls(vocabulary, indptr, docs[order].astype(np.int32), counts, lengths, rowids)

    @classmethod
    def merge(cls, parts: list[tuple[Bm25Index, np.ndarray | None]]) -> Bm25Index:
        """One segment holding the live passages (mask, None: all) of segments given in row
        id order: what a build from scratch over those passages gives, without re-analysing
        any text."""
        vocabulary: dict[str, int] = {}
        term_ids, docs, freqs, lengths, rowids = [], [], [], [], []
        offset = 0
        for index, live in parts:
            keep = np.ones(len(index), bool) if live is None else live
            position = np.cumsum(keep, dtype=np.int64) - 1 + offset
            names = index.terms()
            term_of = np.repeat(np.arange(len(names)), np.diff(index.indptr))
            kept = keep[index.docs]
            used = np.unique(term_of[kept])
            mapping = np.zeros(len(names), np.int32)
            mapping[used] = [vocabulary.setdefault(str(names[t]), len(vocabulary)) for t in used]
            term_ids.append(mapping[term_of[kept]])
            docs.append(position[index.docs[kept]])
            freqs.append(index.tf[kept])
            lengths.append(index.lengths[keep])
            rowids.append(index.rowids[keep])
            offset += int(keep.sum())
        if not offset:
            return cls.empty()
        return cls._sorted(
            vocabulary,
            np.concatenate(term_ids),
            np.concatenate(docs),
            np.concatenate(freqs),
            np.concatenate(lengths),
            np.concatenate(rowids),
        )

    def terms(self) -> np.ndarray:
        """The vocabulary as an array, by term id."""
        return np.array(sorted(self.vocabulary, key=self.vocabulary.__getitem__), dtype=str)

    def query_terms(self, terms: list[str], words: tuple[Word, ...] = ()) -> QueryTerms:
        return Bm25Segments([(self, None)]).query_terms(terms, words)

    def search(self, query: QueryTerms, depth: int) -> list[tuple[int, float]]:
        return Bm25Segments([(self, None)]).search(query, depth)

    def save(self, path: Path) -> None:
        """Plain write (to an open file: `np.savez` would append ".npz" to a temp name);
        `indexfiles.write` makes it atomic and checksums it."""
        with open(path, "wb") as fh:
            np.savez(
                fh,
                terms=self.terms(),
                indptr=self.indptr,
                docs=self.docs,
                tf=self.tf,
                lengths=self.lengths,
                rowids=self.rowids,
            )

    @classmethod
    def load(cls, path: Path) -> Bm25Index:
        """Raises ValueError for arrays that `build` cannot have made (see `check`)."""
        with np.load(path, allow_pickle=False) as data:
            vocabulary = {str(term): i for i, term in enumerate(data["terms"])}
            index = cls(
                vocabulary,
                data["indptr"],
                data["docs"],
                data["tf"],
                data["lengths"],
                data["rowids"],
            )
        index.check()
        return index

    def check(self) -> None:
        """Raise ValueError unless the arrays are consistent: a damaged file would otherwise
        fail every question (doc ids out of range) or rank silently wrong (row ids out of
        order, counts of zero)."""
        problems = {
            "types": (
                self.indptr.dtype != np.int64
                or self.docs.dtype != np.int32
                or self.tf.dtype != np.uint16
                or self.lengths.dtype != np.int32
                or self.rowids.dtype != np.int64
            ),
            "postings offsets": (
                self.indptr.shape != (len(self.vocabulary) + 1,)
                or self.indptr[0] != 0
                or self.indptr[-1] != len(self.docs)
                or bool(np.any(np.diff(self.indptr) < 0))
            ),
            "term counts": self.tf.shape != self.docs.shape or bool(np.any(self.tf == 0)),
            "lengths": self.lengths.shape != self.rowids.shape or bool(np.any(self.lengths < 0)),
            "doc ids": (
                len(self.docs) > 0
                and (int(self.docs.min()) < 0 or int(self.docs.max()) >= len(self.rowids))
            ),
            "row ids": self.rowids.ndim != 1 or bool(np.any(np.diff(self.rowids) <= 0)),
        }
        bad = [name for name, wrong in problems.items() if wrong]
        if bad:
            raise ValueError("inconsistent BM25 arrays: " + ", ".join(bad))


class Bm25Segments:
    """FTS5's BM25 over the live passages of several segments, exactly as one index built
    from scratch over them would score: the passage count, the average length and each
    term's document frequency are taken over live passages only."""

    def __init__(self, parts: list[tuple[Bm25Index, np.ndarray | None]]) -> None:
        self.parts = parts  # (segment, live mask or None when every passage is live)
        self.total = sum(len(i) if live is None else int(live.sum()) for i, live in parts)
        length = sum(
            int(i.lengths.sum() if live is None else i.lengths[live].sum()) for i, live in parts
        )
        self.average = length / self.total if self.total else 1.0

    def __len__(self) -> int:
        return self.total

    @cached_property
    def _norms(self) -> list[np.ndarray]:
        """Per segment, each passage's length norm k1·(1 − b + b·dl/avgdl): computed once
        per published snapshot, then every question reuses it."""
        return [
            (K1 * (1 - B + B * index.lengths / self.average)).astype(np.float32)
            for index, _ in self.parts
        ]

    def _postings(self, term: str) -> list[tuple[int, slice]]:
        found = []
        for n, (index, _) in enumerate(self.parts):
            if (t := index.vocabulary.get(term)) is not None:
                found.append((n, slice(int(index.indptr[t]), int(index.indptr[t + 1]))))
        return found

    def _df(self, term: str) -> int:
        df = 0
        for n, span in self._postings(term):
            index, live = self.parts[n]
            df += span.stop - span.start if live is None else int(live[index.docs[span]].sum())
        return df

    def query_terms(self, terms: list[str], words: tuple[Word, ...] = ()) -> QueryTerms:
        """A question's terms with their document frequencies; `words` pair a translated
        question's words with their translations (whose terms match too, but do not make it
        a corpus-language question)."""
        distinct = distinct_terms(terms, words)
        df = {term: n for term in distinct if (n := self._df(term))}
        return QueryTerms(distinct, df, self.total, words)

    def search(self, query: QueryTerms, depth: int) -> list[tuple[int, float]]:
        """(row id, BM25 score) pairs, best first: the ranking `fts5_search` gives."""
        matchable = query.matchable()
        idfs = {
            term: np.float32(max(math.log((self.total - n + 0.5) / (n + 0.5)), IDF_FLOOR))
            for term in matchable
            for n in [query.df[term]]
        }
        best: list[tuple[np.ndarray, np.ndarray]] = []
        for n, (index, live) in enumerate(self.parts):
            scores = np.zeros(len(index), dtype=np.float32)
            norm = self._norms[n]
            for term in matchable:
                if (t := index.vocabulary.get(term)) is None:
                    continue
                span = slice(int(index.indptr[t]), int(index.indptr[t + 1]))
                docs = index.docs[span]
                tf = index.tf[span].astype(np.float32)
                scores[docs] += idfs[term] * (tf * np.float32(K1 + 1) / (tf + norm[docs]))
            if live is not None:
                scores[~live] = 0
            hits = np.flatnonzero(scores)
            if len(hits) > depth:
                hits = hits[np.argpartition(scores[hits], -depth)[-depth:]]
            best.append((index.rowids[hits], scores[hits]))
        rowids = np.concatenate([r for r, _ in best]) if best else np.zeros(0, np.int64)
        scores = np.concatenate([s for _, s in best]) if best else np.zeros(0, np.float32)
        order = np.lexsort((rowids, -scores))[:depth]
        return [(int(rowids[i]), float(scores[i])) for i in order]


async def stored_terms(
    conn: aiosqlite.Connection, first: int = 0, last: int = 2**62
) -> list[tuple[int, str]]:
    """The (row id, terms) from FTS5 of passages with row ids in [first, last], what
    `Bm25Index.build` takes."""
    sql = "SELECT rowid, terms FROM passages_fts WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
    async with conn.execute(sql, (first, last)) as cur:
        return [(int(r[0]), r[1]) for r in await cur.fetchall()]


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
