"""The default configuration, offline: the bundled model answers Turkish and English."""

import asyncio
from pathlib import Path

import numpy as np
import pytest

from embeddings.config import EngineConfig
from embeddings.engine import Engine
from tests.conftest import HEADLINE_EN, HEADLINE_TR, SEED_CORPUS, passage_encodings

ANSWER = "Le Minh Hung"


@pytest.fixture(scope="module")
def default_config(tmp_path_factory: pytest.TempPathFactory) -> EngineConfig:
    """The seed corpus indexed once, with the default configuration (EngineConfig's own
    model)."""
    config = EngineConfig(
        corpus_dir=SEED_CORPUS, data_dir=tmp_path_factory.mktemp("default") / "data"
    )

    async def build() -> None:
        async with await Engine.open(config) as engine:
            await engine.update()

    asyncio.run(build())
    return config


@pytest.fixture
async def default_engine(default_config: EngineConfig):
    async with await Engine.open(default_config) as engine:
        yield engine


@pytest.mark.parametrize("question", [HEADLINE_EN, HEADLINE_TR])
async def test_headline_is_answered_with_the_sentence_naming_him(
    default_engine: Engine, question: str
):
    assert default_engine.encoder is not None  # the default model is there, offline
    answer = await default_engine.ask(question, k=5)
    assert answer.answered
    best = answer.passages[0]
    assert ANSWER in best.text and ANSWER in best.highlight and best.highlight in best.text
    assert "başkanlık etti" in best.highlight


async def test_english_question_about_another_relation_highlights_that_relation(
    default_engine: Engine,
):
    answer = await default_engine.ask("Who gave a speech at the conference?", k=3)
    assert answer.answered and "To Lam" in answer.passages[0].highlight


async def test_other_sources_are_offered_only_when_they_answer_too(default_engine: Engine):
    """The 6 Aralık passage shares words with the headline question but does not answer it."""
    for question in (HEADLINE_EN, HEADLINE_TR):
        answer = await default_engine.ask(question, k=8)
        answering = [h for h in answer.passages if not h.weak]
        assert answering and all("6 Aralık" not in h.text or ANSWER in h.text for h in answering)
        assert all(h.article_id == answer.passages[0].article_id for h in answering)


@pytest.mark.parametrize(
    "question", ["What is the tallest mountain in Japan?", "Japonya'nın en yüksek dağı hangisidir?"]
)
async def test_out_of_corpus_questions_are_not_answered(default_engine: Engine, question: str):
    answer = await default_engine.ask(question)
    assert not answer.answered
    assert answer.passages and all(h.weak for h in answer.passages)  # closest, marked weak


async def test_switching_model_reembeds_into_its_own_cache(
    tmp_path: Path, minilm, bundled, monkeypatch: pytest.MonkeyPatch
):
    config = EngineConfig(corpus_dir=SEED_CORPUS, data_dir=tmp_path)
    async with await Engine.open(config, encoder=bundled) as engine:
        await engine.update()
    async with await Engine.open(config, encoder=minilm) as engine:
        await engine.update()
        [(rowid, _)] = engine.snapshot.vectors.search(minilm.encode_queries(["konferans"])[0], 1)
        passage = (await engine.passages([rowid]))[rowid]
        served = engine.snapshot.segments[0].vectors.index.reconstruct(rowid)
        assert np.allclose(served, minilm.encode_passages([passage.ranking_text])[0], atol=1e-5)
    encoded = passage_encodings(bundled, monkeypatch)
    async with await Engine.open(config, encoder=bundled) as engine:
        assert (await engine.update()).embedded == 0
        assert "Le Minh Hung" in (await engine.ask(HEADLINE_EN)).passages[0].text
    assert encoded == []  # switching back: its vectors were kept, nothing encoded again
