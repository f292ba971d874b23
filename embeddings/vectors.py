"""FAISS vector index over normalised embeddings, keyed by passage row id.

Exact inner-product search while the corpus is small; HNSW above a size threshold, where
exact search would cost more than the rest of the query.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def kind(self) -> str:
        return (
            "hnsw"
            if isinstance(faiss.downcast_index(self.index.index), faiss.IndexHNSW)
            else "flat"
        )

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, hnsw_threshold: int) -> VectorIndex:
        dim = vectors.shape[1]
        if len(vectors) > hnsw_threshold:
            inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(inner)
        if len(vectors):
            index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64)
            )
        return cls(index)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row id, cosine) pairs, best first, for one normalised query vector."""
        if len(self) == 0:
            return []
        scores, ids = self.index.search(query.reshape(1, -1).astype(np.float32), min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def similarity(self, query: np.ndarray, rowid: int) -> float | None:
        """Cosine of the query with a stored passage, whether or not it was in the top hits."""
        try:
            return float(self.index.reconstruct(int(rowid)) @ query)
        except RuntimeError:  # id not in the index
            return None

    def save(self, path: Path) -> None:
        """Plain write; `indexfiles.write` makes it atomic and checksums it."""
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Raises ValueError (or faiss's RuntimeError) for a file that is not an index as
        `build` makes them: one never serves vectors under the wrong passages."""
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"not an id-mapped index ({type(index).__name__})")
        ids = faiss.vector_to_array(index.id_map)
        if len(ids) != index.ntotal or np.any(np.diff(ids) <= 0) or (len(ids) and ids[0] < 1):
            raise ValueError("passage row ids are not those of a built index")
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexHNSW):
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)
