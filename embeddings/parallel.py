"""CPU-bound index-time work spread over every core, for batches large enough to pay for it.

Workers are spawned, never forked: the engine's process has threads (SQLite, FAISS) whose
locks a fork could copy mid-use.

Bulk work allocates millions of objects and frees them by reference counting, leaving
almost no reference cycles; Python's cyclic collector would still walk every live object
again and again (a first build holds every article): a tenth of a 128k build's CPU. So
workers run without it, and the engine pauses it for its bulk phases (`paused_gc`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_chunks(fn: Callable[[list[T]], R], items: Sequence[T], chunk: int) -> Iterator[R]:
    """`fn` over `items`, `chunk` at a time: one result per chunk, in order, each as soon as
    it is ready, while the workers go on with the next chunks. In this process, chunk by
    chunk, unless there are at least two chunks for two cores. Closing the iterator early
    cancels the chunks not started."""
    workers = min(os.cpu_count() or 1, len(items) // chunk)
    parts = (list(items[i : i + chunk]) for i in range(0, len(items), chunk))
    if workers < 2:
        yield from map(fn, parts)
        return
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=gc.disable)
    try:
        yield from pool.map(fn, parts)
    finally:
        pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection in this block (minutes at most: the bot keeps serving
    meanwhile, and its cycles wait for the next collection)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
