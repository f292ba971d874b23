"""CPU-bound index-time work spread over every core, for batches large enough to pay for it.

Workers are spawned, never forked: the engine's process has threads (SQLite, FAISS) whose
locks a fork could copy mid-use.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_chunks(fn: Callable[[list[T]], list[R]], items: Sequence[T], chunk: int) -> list[R]:
    """`fn` over `items`, `chunk` at a time, in order: in this process unless there are at
    least two chunks for two cores."""
    workers = min(os.cpu_count() or 1, len(items) // chunk)
    if workers < 2:
        return fn(list(items))
    parts = [list(items[i : i + chunk]) for i in range(0, len(items), chunk)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [item for part in pool.map(fn, parts) for item in part]
