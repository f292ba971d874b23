import math
from pathlib import Path

import pytest

from embeddings.config import EngineConfig
from embeddings.corpus import LoadResult
from embeddings.engine import Engine
from embeddings.evaluate import article_rank, evaluate, load_squad, metrics
from tests.conftest import FIXTURES


def test_metrics_from_ranks():
    result = metrics([1, 2, None, 11])
    assert result["recall@1"] == 0.25 and result["recall@5"] == 0.5
    assert result["mrr@10"] == round((1 + 0.5) / 4, 4)
    assert result["ndcg@10"] == round((1 + 1 / math.log2(3)) / 4, 4)


def test_article_rank_counts_each_article_once():
    ranking = [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0)]
    article_of = {1: "a", 2: "a", 3: "b", 4: "c"}
    assert article_rank(ranking, article_of, "c") == 3
    assert article_rank(ranking, article_of, "z") is None


def test_parallel_questions_file():
    articles, tr = load_squad(FIXTURES / "xquad-small.tr.json")
    _, en = load_squad(FIXTURES / "xquad-small.tr.json", FIXTURES / "xquad-small.en.json")
    assert len(articles) == 6 and len(tr) == len(en) == 12
    assert [q.article_id for q in tr] == [q.article_id for q in en]
    assert tr[0].text != en[0].text and en[0].text.endswith("?")


async def test_turkish_questions_find_their_paragraph_offline(tmp_path: Path):
    articles, questions = load_squad(FIXTURES / "xquad-small.tr.json")
    async with await Engine.open(EngineConfig(data_dir=tmp_path, model=None)) as engine:
        await engine.apply(LoadResult(articles))
        result = await evaluate(engine, questions, answerability=True)
        rates = result["answerability"]
    assert result["dense"] is None
    assert result["lexical"] == result["fused"]
    assert result["lexical"]["recall@5"] >= 0.9
    assert rates["answered_in_corpus"] > rates["answered_held_out"]


@pytest.mark.model
async def test_fused_ranking_is_no_worse_than_its_inputs(tmp_path: Path, minilm_path, minilm):
    articles, questions = load_squad(
        FIXTURES / "xquad-small.tr.json", FIXTURES / "xquad-small.en.json"
    )
    config = EngineConfig(data_dir=tmp_path, model=minilm_path)
    async with await Engine.open(config, encoder=minilm) as engine:
        await engine.apply(LoadResult(articles))
        result = await evaluate(engine, questions)
    best = max(result["lexical"]["ndcg@10"], result["dense"]["ndcg@10"])
    assert result["fused"]["ndcg@10"] >= best - 1e-9
