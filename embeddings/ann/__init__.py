"""Dense index backends behind one interface (`ANN`), chosen by name, as txtai's `ann/`.

- `faiss` (the default): FAISS in process, flat or HNSW over SQ8 codes (`faiss.py`).

A backend indexes one segment (`segments.py`); `DenseSegments` searches them all.
"""

from __future__ import annotations

from embeddings.ann.base import ANN
from embeddings.ann.faiss import FaissANN
from embeddings.ann.segments import DenseSegments

BACKENDS: dict[str, type[ANN]] = {"faiss": FaissANN}

__all__ = ["ANN", "BACKENDS", "DenseSegments", "create"]


def create(name: str) -> type[ANN]:
    """The backend class for a configured name; ValueError names the known ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown vector backend {name!r}; known: {', '.join(sorted(BACKENDS))}"
        ) from None
