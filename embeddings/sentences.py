"""Per-sentence vectors of every passage, computed once at index time.

A question is usually answered by one sentence, and a 100-word passage's vector dilutes
it: scoring a passage by its best sentence as well lifts retrieval (English questions on
XQuAD-tr: dense nDCG@10 0.886 → 0.915), and the same vectors pick the sentence to highlight
for a question in another language without encoding anything at question time.

Cached in the embedding table under `<encoder key>#sentences`, one row per passage holding
its sentences' vectors (float16, in order), so they share the passages' cache life cycle.
"""

from __future__ import annotations

import numpy as np

SUFFIX = "#sentences"


def cache_key(encoder_key: str) -> str:
    return encoder_key + SUFFIX


def to_blob(vectors: np.ndarray) -> bytes:
    return np.ascontiguousarray(vectors, dtype=np.float16).tobytes()


class SentenceVectors:
    """All passages' sentence vectors in one float16 matrix, rows grouped by passage."""

    def __init__(self, rowids: np.ndarray, indptr: np.ndarray, matrix: np.ndarray) -> None:
        self.rowids = rowids  # passage row ids, ascending
        self.indptr = indptr  # sentences of rowids[i]: matrix[indptr[i]:indptr[i + 1]]
        self.matrix = matrix

    def __len__(self) -> int:
        return len(self.rowids)

    @classmethod
    def from_blobs(cls, rows: list[tuple[int, bytes]], dim: int) -> SentenceVectors:
        """From (passage row id, blob) pairs ordered by row id."""
        rowids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        counts = np.fromiter((len(b) // (2 * dim) for _, b in rows), np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        matrix = np.frombuffer(b"".join(b for _, b in rows), dtype=np.float16).reshape(-1, dim)
        return cls(rowids, indptr, matrix)

    def similarities(self, qvec: np.ndarray, rowid: int) -> np.ndarray | None:
        """Cosine of the question with each sentence of a passage, or None if unknown."""
        i = int(np.searchsorted(self.rowids, rowid))
        if i >= len(self.rowids) or self.rowids[i] != rowid:
            return None
        block = self.matrix[self.indptr[i] : self.indptr[i + 1]]
        return block.astype(np.float32) @ qvec

    def best(self, qvec: np.ndarray, rowids: list[int]) -> dict[int, float]:
        """Each passage's best sentence cosine (passages without vectors are left out)."""
        out = {}
        for rowid in rowids:
            sims = self.similarities(qvec, rowid)
            if sims is not None and len(sims):
                out[rowid] = float(sims.max())
        return out


def encode(encoder, passages: list[tuple[str, tuple[str, ...]]]) -> list[bytes]:
    """One blob per (passage id, sentences), each distinct sentence encoded once (passages
    overlap by a sentence)."""
    distinct = list(dict.fromkeys(s for _, sentences in passages for s in sentences))
    vectors = encoder.encode_passages(distinct)
    row = {s: i for i, s in enumerate(distinct)}
    return [to_blob(vectors[[row[s] for s in sentences]]) for _, sentences in passages]
