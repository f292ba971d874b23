"""CPU-bound index-time work spread over every core, for batches large enough to pay for it.

Workers are spawned, never forked: the engine's process has threads (SQLite, FAISS) whose
locks a fork could copy mid-use.

An update's steps (reading the files, then analysing their articles) share one pool of
workers (`shared_workers`): each worker imports the engine's modules once, not once a step.

A worker exits when the engine's process dies, even by kill -9: it would otherwise wait for
work forever, holding its memory.

Bulk work allocates millions of objects and frees them by reference counting, leaving
almost no reference cycles; Python's cyclic collector would still walk every live object
again and again (a first build holds every article): a tenth of a 128k build's CPU. So
workers run without it, and the engine pauses it for its bulk phases (`paused_gc`).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Shared:
    """A pool of one worker per core, started when first needed."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None

    def get(self) -> ProcessPoolExecutor:
        if self.pool is None:
            self.pool = _pool(os.cpu_count() or 1)
        return self.pool

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


# Seen by the threads an update starts (asyncio.to_thread copies the caller's context).
_SHARED: contextvars.ContextVar[_Shared | None] = contextvars.ContextVar("shared", default=None)


@contextlib.contextmanager
def shared_workers() -> Iterator[None]:
    """Every `map_chunks` in this block, and in threads started from it with its context,
    uses one pool, started on first use and stopped at the end of the block."""
    shared = _Shared()
    token = _SHARED.set(shared)
    try:
        yield
    finally:
        _SHARED.reset(token)
        shared.stop()


def release_workers() -> None:
    """Stop the shared pool for now (a later `map_chunks` starts it again): its workers are
    not to sit on their memory through a long wait, such as encoding an archive."""
    shared = _SHARED.get()
    if shared is not None:
        shared.stop()


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
    shared = _SHARED.get()
    if shared is not None:
        yield from shared.get().map(fn, parts)  # closing it cancels the chunks not started
        return
    pool = _pool(workers)
    try:
        yield from pool.map(fn, parts)
    finally:
        pool.shutdown(cancel_futures=True)


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker)


def _start_worker() -> None:
    gc.disable()
    exit_with_parent()


def exit_with_parent() -> None:
    """In a spawned worker: exit as soon as the parent process is gone, even by kill -9 (a
    worker would otherwise wait for work forever, holding its memory)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_closed, args=(parent.sentinel,), daemon=True).start()


def _exit_when_closed(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


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
