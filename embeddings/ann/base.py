"""What a dense index backend does for one segment: the interface a second backend (a
Qdrant collection, a GPU index) implements, as txtai's `ann` backends do."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class ANN(ABC):
    """Nearest neighbours by inner product over normalised vectors, keyed by passage row id.

    Immutable once built: a segment's passages never change, and the passages that leave
    are excluded at search time (`exclude`), never deleted.
    """

    @classmethod
    @abstractmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, hnsw_threshold: int) -> ANN:
        """An index of these vectors under these row ids (ascending)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    @abstractmethod
    def kind(self) -> str:
        """What searches it, for people: "flat", "hnsw"…"""

    @abstractmethod
    def rowids(self) -> np.ndarray:
        """The row ids it holds, ascending."""

    @abstractmethod
    def search(
        self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """The `k` best (row id, cosine) pairs, best first, leaving out `exclude`."""

    @abstractmethod
    def similarity(self, query: np.ndarray, rowid: int) -> float | None:
        """Cosine of the query with a held passage; None when it is not held."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write to `path` (`indexfiles.write` makes it atomic and checksums it)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> ANN:
        """Read what `save` wrote; raise for anything else (it is then rebuilt)."""
