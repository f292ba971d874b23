"""Dense search across segments, each with its own `ANN`."""

from __future__ import annotations

import numpy as np

from embeddings.ann.base import ANN


class DenseSegments:
    """Dense search over the live passages of several segments, one FAISS index each."""

    def __init__(self, parts: list[tuple[ANN, np.ndarray, np.ndarray | None]]) -> None:
        # (index, its row ids ascending, row ids no longer live or None)
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(i) - (0 if dead is None else len(dead)) for i, _, dead in self.parts)

    @property
    def kind(self) -> str:
        """The largest segment's index kind ("flat" or "hnsw"): what most passages use."""
        return max(self.parts, key=lambda part: len(part[0]))[0].kind

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row id, cosine) pairs, best first, across segments."""
        found = [hit for index, _, dead in self.parts for hit in index.search(query, k, dead)]
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))[:k]

    def similarity(self, query: np.ndarray, rowid: int) -> float | None:
        for index, rowids, _ in self.parts:
            inside = len(rowids) and rowids[0] <= rowid <= rowids[-1]
            if inside and (found := index.similarity(query, rowid)) is not None:
                return found
        return None
