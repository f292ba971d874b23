"""Index-time work over several processes comes back in order, one result per chunk."""

from __future__ import annotations

import os

import pytest

from embeddings.parallel import map_chunks, release_workers, shared_workers
from tests.embeddings.test_segments import ARTICLES


def test_chunks_come_back_in_order_from_several_processes():
    items = [a.id for a in ARTICLES] * 3
    chunks = list(map_chunks(_reversed_ids, items, 2))
    assert len(chunks) == (len(items) + 1) // 2
    assert [i for chunk in chunks for i in chunk] == [i[::-1] for i in items]


def _reversed_ids(ids: list[str]) -> list[str]:
    return [i[::-1] for i in ids]


def test_an_update_spawns_its_workers_once_and_stops_them_after():
    items = list(range(8))
    with shared_workers():
        first = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        again = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        assert again <= first and os.getpid() not in first
        release_workers()  # e.g. before a long encoding: a later map starts new workers
        restarted = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        assert not restarted & first
    for pid in first | restarted:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _pids(items: list[int]) -> list[int]:
    return [os.getpid() for _ in items]
