"""Index-time work over several processes gives what one process gives, in order."""

from __future__ import annotations

from embeddings.corpus import Article
from embeddings.indexing import _passages, _prepare
from embeddings.parallel import map_chunks
from tests.embeddings.test_segments import ARTICLES


def test_chunks_come_back_in_order_from_several_processes():
    items = [a.id for a in ARTICLES] * 3
    assert map_chunks(_reversed_ids, items, 2) == [i[::-1] for i in items]


def test_a_large_batch_is_analysed_as_one_process_would(monkeypatch):
    monkeypatch.setattr("embeddings.indexing.PARALLEL_ARTICLES", 2)
    articles = [
        Article(id=f"{a.id}-{n}", title=a.title, text=a.text) for n, a in enumerate(ARTICLES)
    ]
    parallel = _prepare(articles)
    assert [a for a, _, _ in parallel] == articles
    assert [(p, t) for _, p, t in parallel] == _passages(articles)


def _reversed_ids(ids: list[str]) -> list[str]:
    return [i[::-1] for i in ids]
