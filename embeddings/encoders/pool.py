"""Bulk encoding on several cores: one single-threaded copy of the bundled model per process
(`ENCODE_WORKERS`), for machines where the engine's own threads stop scaling.

On the 2-core development machine two processes were slower than one engine with two
threads (3.9 against 6.2 passages/s, docs/performance.md), so the default is one process.
Only large jobs use the pool (a first build, a bulk import): starting a worker costs a model
load.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

import numpy as np

from embeddings.encoders.base import Encoder
from embeddings.parallel import exit_with_parent

# Texts per task: large enough to amortise the hop, small enough to keep every worker busy.
CHUNK = 64

_worker: Encoder | None = None


def _start(name: str) -> None:
    """In a worker: the model, restricted to one thread before its engine loads."""
    global _worker
    exit_with_parent()
    os.environ["OMP_NUM_THREADS"] = "1"
    from embeddings.encoders import load_encoder

    _worker = load_encoder(name, threads=1)


def _encode(texts: list[str]) -> np.ndarray:
    assert _worker is not None, "the encoder failed to load in a worker"
    return _worker.encode_passages(texts)


class EncoderPool:
    """`encode_passages` spread over `workers` processes, in order; a context manager."""

    def __init__(self, name: str, workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start, initargs=(name,)
        )

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        return np.concatenate(list(self._pool.map(_encode, chunks)))

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
