"""Index-time work over several processes comes back in order, one result per chunk."""

from __future__ import annotations

from embeddings.parallel import map_chunks
from tests.embeddings.test_segments import ARTICLES


def test_chunks_come_back_in_order_from_several_processes():
    items = [a.id for a in ARTICLES] * 3
    chunks = list(map_chunks(_reversed_ids, items, 2))
    assert len(chunks) == (len(items) + 1) // 2
    assert [i for chunk in chunks for i in chunk] == [i[::-1] for i in items]


def _reversed_ids(ids: list[str]) -> list[str]:
    return [i[::-1] for i in ids]
