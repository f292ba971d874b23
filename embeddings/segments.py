"""The served index as immutable segments, as Lucene and Tantivy keep theirs.

A segment holds the passages of one row-id range (row ids only grow: SQLite's
AUTOINCREMENT) with up to three parts: BM25 postings, a FAISS index and sentence vectors.
An update adds one small segment for its new passages and marks the passages it removed as
dead in the older ones; a merge later folds segments into one, dropping the dead. The
database stays the truth: a passage is live while its row exists, so a snapshot's dead
lists are derived from it and a crash can leave nothing half-applied.

`Snapshot` is what a question is answered from. It is never mutated: an update or a merge
publishes a new one with one reference swap, so a question sees all of an update or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from embeddings.ann import ANN, DenseSegments
from embeddings.indexfiles import FileRecord
from embeddings.lexical import Bm25Index, Bm25Segments
from embeddings.sentences import SentenceSegments, SentenceVectors

KINDS = ("lexical", "vectors", "sentences")
# Merge policy: the newest segments are merged when there are more than this many…
MAX_SEGMENTS = 8
# …and every segment into one when those after the first hold this share of its passages,
# or when this share of all passages is dead (their postings still cost time and memory).
MERGE_SHARE = 0.10
DEAD_SHARE = 0.20

Part = Bm25Index | ANN | SentenceVectors


@dataclass(frozen=True)
class Segment:
    """Passages with row ids in [first, last]; each part is None when not served."""

    first: int
    last: int
    lexical: Bm25Index | None = None
    vectors: ANN | None = None
    sentences: SentenceVectors | None = None
    files: dict[str, FileRecord] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Passages built into it (dead ones included until a merge)."""
        part = self.lexical if self.lexical is not None else self.sentences
        if part is not None:
            return len(part)
        return len(self.vectors) if self.vectors is not None else 0

    def rowids(self) -> np.ndarray:
        if self.lexical is not None:
            return self.lexical.rowids
        if self.sentences is not None:
            return self.sentences.rowids
        if self.vectors is not None:
            return self.vectors.rowids()
        return np.zeros(0, np.int64)

    def record(self) -> dict:
        """What the database keeps of it (the files are verified against it on load)."""
        return {
            "first": self.first,
            "last": self.last,
            "files": {kind: vars(file) for kind, file in self.files.items()},
        }


@dataclass(frozen=True)
class Snapshot:
    """Segments in row-id order, each with the row ids of its passages that are gone."""

    segments: tuple[Segment, ...] = ()
    dead: tuple[np.ndarray, ...] = ()
    articles: int = 0
    passages: int = 0
    memory_lexical: bool = True  # False: BM25 is scored by FTS5 (LEXICAL_BACKEND=fts5)

    def _live(self, n: int, rowids: np.ndarray) -> np.ndarray | None:
        dead = self.dead[n]
        if not len(dead):
            return None
        return ~np.isin(rowids, dead, assume_unique=True)

    @cached_property
    def lexical(self) -> Bm25Segments | None:
        """BM25 over the live passages; None when not served from memory (FTS5 scores)."""
        parts = [
            (s.lexical, self._live(n, s.lexical.rowids))
            for n, s in enumerate(self.segments)
            if s.lexical is not None
        ]
        return Bm25Segments(parts) if self.memory_lexical else None

    @cached_property
    def vectors(self) -> DenseSegments | None:
        parts = [
            (s.vectors, s.vectors.rowids(), self.dead[n] if len(self.dead[n]) else None)
            for n, s in enumerate(self.segments)
            if s.vectors is not None
        ]
        return DenseSegments(parts) if parts else None

    @cached_property
    def sentences(self) -> SentenceSegments | None:
        parts = [s.sentences for s in self.segments if s.sentences is not None]
        return SentenceSegments(parts) if parts else None

    @property
    def dead_count(self) -> int:
        return sum(len(d) for d in self.dead)

    def files(self) -> set[str]:
        return {f.name for s in self.segments for f in s.files.values()}

    def with_removed(self, removed: np.ndarray) -> tuple[np.ndarray, ...]:
        """The dead lists once these row ids are gone too (only touched segments change)."""
        removed = np.sort(removed)
        out = []
        for segment, dead in zip(self.segments, self.dead, strict=True):
            lo, hi = np.searchsorted(removed, [segment.first, segment.last + 1])
            if hi > lo:
                inside = removed[lo:hi]
                held = inside[np.isin(inside, segment.rowids(), assume_unique=True)]
                dead = np.union1d(dead, held)
            out.append(dead)
        return tuple(out)

    def merge_due(self) -> slice | None:
        """Which segments to merge now, if any: all of them when the later ones have grown
        past MERGE_SHARE of the first or too much is dead, else the newest ones when there
        are more than MAX_SEGMENTS (small deltas: cheap to merge)."""
        sizes = [s.size for s in self.segments]
        if len(sizes) < 2 and not (sizes and self.dead_count):
            return None
        total = sum(sizes)
        if total and self.dead_count > DEAD_SHARE * total:
            return slice(0, len(sizes))
        if len(sizes) >= 2 and sum(sizes[1:]) > MERGE_SHARE * sizes[0]:
            return slice(0, len(sizes))
        if len(sizes) > MAX_SEGMENTS:
            return slice(1, len(sizes))
        return None


def merge(segments: list[Segment], dead: list[np.ndarray]) -> Segment:
    """One segment with the live passages of consecutive segments: the same scores as a
    build from scratch, without re-analysing text; vectors are re-indexed (FAISS cannot
    merge graphs), from `vectors` given by the caller (see `merge_vectors`)."""
    lexical = sentences = None
    if all(s.lexical is not None for s in segments):
        lexical = Bm25Index.merge(
            [(s.lexical, _alive(s.lexical.rowids, d)) for s, d in zip(segments, dead, strict=True)]
        )
    if all(s.sentences is not None for s in segments):
        sentences = SentenceVectors.merge(
            [
                (s.sentences, _alive(s.sentences.rowids, d))
                for s, d in zip(segments, dead, strict=True)
            ]
        )
    return Segment(segments[0].first, segments[-1].last, lexical, None, sentences)


def _alive(rowids: np.ndarray, dead: np.ndarray) -> np.ndarray | None:
    return ~np.isin(rowids, dead, assume_unique=True) if len(dead) else None
