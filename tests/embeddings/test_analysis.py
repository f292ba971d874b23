"""Index-time analysis gives what the question path expects, in one process or several."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.analysis import analyse
from embeddings.corpus import load_corpus
from embeddings.lexical import Bm25Index
from embeddings.splitter import split_article
from embeddings.text import terms
from tests.conftest import FIXTURES, SEED_CORPUS

ARTICLES = load_corpus(FIXTURES / "news" / "corpus").articles + load_corpus(SEED_CORPUS).articles


def test_each_passage_gets_the_terms_of_its_ranking_text():
    """Sentences are analysed once per article, yet every passage (titled or not, with an
    attribution label or not) is indexed under exactly its ranking text's terms."""
    split = [p for a in ARTICLES for p in split_article(a)]
    assert any(p.attribution for p in split)
    assert any(p.title_in_text for p in split) and any(not p.title_in_text for p in split)
    passages = [p for chunk in analyse(ARTICLES) for p in chunk.passages]
    assert [p.ranking_text for p in passages] == [p.ranking_text for p in split]
    for passage in passages:
        assert passage.terms == " ".join(terms(passage.ranking_text))


def test_a_large_batch_is_analysed_as_one_process_would(monkeypatch: pytest.MonkeyPatch):
    [alone] = analyse(ARTICLES)
    monkeypatch.setattr("embeddings.analysis.PARALLEL_ARTICLES", 3)
    chunks = list(analyse(ARTICLES))
    assert len(chunks) == 4
    assert [a for c in chunks for a in c.articles] == alone.articles
    assert [p for c in chunks for p in c.passages] == alone.passages
    assert any(a.mentions for a in alone.articles) and all(a.signature for a in alone.articles)
    rowids = np.arange(100, 100 + len(alone.passages))
    served = Bm25Index.from_postings([c.postings for c in chunks], rowids)
    reference = Bm25Index.build([(r, p.terms) for r, p in zip(rowids, alone.passages, strict=True)])
    assert served.vocabulary == reference.vocabulary
    for name in ("indptr", "docs", "tf", "lengths", "rowids"):
        assert np.array_equal(getattr(served, name), getattr(reference, name))
