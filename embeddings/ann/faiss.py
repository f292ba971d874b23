"""The FAISS backend: exact inner-product search while a segment is small; HNSW over 8-bit
scalar-quantised vectors above a size threshold, where exact search would cost more than the
rest of the question and float32 vectors would dominate memory (1.5 GB at a million
passages, 0.4 as SQ8).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from embeddings.ann.base import ANN

HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


class FaissANN(ANN):
    """FAISS, in process: exact search or HNSW over SQ8 codes, ids mapped to row ids."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self._rowids: np.ndarray | None = None

    def rowids(self) -> np.ndarray:
        """The passage row ids it holds, ascending (as `build` adds them)."""
        if self._rowids is None:
            self._rowids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        return self._rowids

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
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, hnsw_threshold: int) -> FaissANN:
        dim = vectors.shape[1]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) > hnsw_threshold:
            inner = faiss.IndexHNSWSQ(
                dim, faiss.ScalarQuantizer.QT_8bit, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT
            )
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
            inner.train(vectors)
        else:
            inner = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(inner)
        if len(vectors):
            index.add_with_ids(vectors, ids.astype(np.int64))
        return cls(index)

    def search(
        self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(row id, cosine) pairs, best first, for one normalised query vector; `exclude`:
        row ids that are no longer live (filtered inside the search, so k stay k)."""
        if len(self) == 0:
            return []
        params = None
        if exclude is not None and len(exclude):
            inner = faiss.downcast_index(self.index.index)
            params = (
                faiss.SearchParametersHNSW()
                if isinstance(inner, faiss.IndexHNSW)
                else faiss.SearchParameters()
            )
            if isinstance(params, faiss.SearchParametersHNSW):
                params.efSearch = max(HNSW_EF_SEARCH, k)
            batch = faiss.IDSelectorBatch(np.ascontiguousarray(exclude, dtype=np.int64))
            selector = faiss.IDSelectorNot(batch)  # locals: they must outlive the search
            params.sel = selector
        scores, ids = self.index.search(
            query.reshape(1, -1).astype(np.float32), min(k, len(self)), params=params
        )
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
    def load(cls, path: Path) -> FaissANN:
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
