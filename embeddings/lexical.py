"""BM25 over Turkish-stemmed terms, stored and scored by SQLite FTS5.

Terms are produced in Python (`embeddings.text.terms`) and stored space-separated, so FTS5
only splits on spaces and never has to understand Turkish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True)
class QueryTerms:
    """A question's distinct terms with their document frequencies in the index."""

    terms: tuple[str, ...]
    df: dict[str, int]
    total: int  # passages in the index

    def idf(self, term: str) -> float:
        """BM25's IDF, floored above zero; a term absent from the index weighs the most."""
        n = self.df.get(term, 0)
        return max(math.log((self.total - n + 0.5) / (n + 0.5) + 1.0), 1e-6)

    @property
    def vocabulary_coverage(self) -> float:
        """Share of the question's IDF weight found anywhere in the index: near 1 for a
        question in the corpus language, near 0 for one in another language."""
        return self.coverage(set(self.df))

    def coverage(self, passage_terms: set[str], boost: frozenset[str] = frozenset()) -> float:
        """Share of the question's IDF weight that a passage contains (`boost` terms count
        double)."""
        weights = {t: self.idf(t) * (2.0 if t in boost else 1.0) for t in self.terms}
        total = sum(weights.values())
        if total == 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in passage_terms) / total


async def query_terms(conn: aiosqlite.Connection, terms: list[str], total: int) -> QueryTerms:
    distinct = tuple(dict.fromkeys(terms))
    df: dict[str, int] = {}
    if distinct:
        marks = ",".join("?" * len(distinct))
        sql = f"SELECT term, doc FROM passages_vocab WHERE term IN ({marks})"
        async with conn.execute(sql, distinct) as cur:
            df = {row[0]: int(row[1]) async for row in cur}
    return QueryTerms(distinct, df, total)


async def search(
    conn: aiosqlite.Connection, query: QueryTerms, depth: int
) -> list[tuple[int, float]]:
    """(row id, BM25 score) pairs, best first.

    Terms in more than half the passages have (clamped) zero IDF in FTS5's BM25, so they are
    left out of the MATCH: same ranking among passages that match anything else, and far
    fewer postings to walk on a large index.
    """
    present = [t for t in query.terms if query.df.get(t, 0) > 0]
    useful = [t for t in present if query.df[t] <= query.total / 2] or present
    if not useful:
        return []
    match = " OR ".join(f'"{t}"' for t in useful)
    sql = (
        "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
        " ORDER BY rank LIMIT ?"
    )
    async with conn.execute(sql, (match, depth)) as cur:
        return [(int(r[0]), float(r[1])) async for r in cur]
