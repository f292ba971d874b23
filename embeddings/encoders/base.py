"""The encoder interface: what the engine needs from an embedding model, whatever runs it."""

from __future__ import annotations

import hashlib
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

_ENDS = 1 << 20  # bytes read from each end of a file for its fingerprint


def fingerprint(path: Path) -> str:
    """A short digest of a model file, or of a model folder's files: their names, sizes and
    both ends (cheap even for gigabytes, and different for any other weights)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        if file.name.startswith("."):
            continue
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path).as_posix()}:{size}".encode())
        with open(file, "rb") as fh:
            digest.update(fh.read(_ENDS))
            if size > 2 * _ENDS:
                fh.seek(-_ENDS, os.SEEK_END)
                digest.update(fh.read())
    return digest.hexdigest()[:16]


class Encoder(ABC):
    """Turns questions and passages into L2-normalised float32 vectors.

    `name` is what the user configured; `key` identifies the vectors themselves (model,
    weights, quantisation, engine version), so the embedding cache never mixes vectors of
    two encoders that share a model name.
    """

    name: str
    key: str
    description: str  # for people: `qabot index`, /stats, the bot's start-up line
    dim: int
    parallel = False  # True: bulk encoding may run one copy per core (encoders/pool.py)

    def __init__(self) -> None:
        # One call at a time: the bot encodes from worker threads, and on a small machine
        # two concurrent calls only compete for the same cores.
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._locked(texts, query=True)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._locked(texts, query=False)

    def _locked(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._encode(list(texts), query=query)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @abstractmethod
    def _encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Vectors for non-empty `texts`, with the model's query or passage convention."""
