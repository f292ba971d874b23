"""`qabot calibrate`: the answer rule's threshold holds its false-answer target across
documents, and a calibrated profile tells answerable questions from held-out ones."""

from pathlib import Path

import numpy as np

from embeddings import calibrate
from embeddings.config import EngineConfig
from embeddings.corpus import LoadResult
from embeddings.engine import Engine
from embeddings.evaluate import holdout, load_squad
from tests.conftest import FIXTURES


def _answered_share(scores: np.ndarray, documents: list[str]) -> float:
    return float((scores + calibrate._bias(scores, documents) >= 0).mean())


def test_threshold_answers_at_most_the_target_share_of_held_out_questions():
    scores = np.random.default_rng(1).normal(size=600)
    documents = [f"{d:03d}" for d in range(20) for _ in range(30)]
    assert 0.0 < _answered_share(scores, documents) <= calibrate.FALSE_ANSWERS


def test_threshold_is_stricter_when_false_answers_cluster_in_one_document():
    """The same 3% of high-scoring held-out questions: spread over the documents they are a
    rate the next documents will see; all from one document, a fluke that may come twice."""
    documents = [f"{d:03d}" for d in range(20) for _ in range(30)]
    spread = np.linspace(0.0, 1.0, 600)
    spread[np.arange(18) * 30] = 2.0  # one in each of 18 documents
    clustered = np.linspace(0.0, 1.0, 600)
    clustered[:18] = 2.0  # as many, all in document 000
    assert _answered_share(clustered, documents) < _answered_share(spread, documents)


def test_no_threshold_meets_the_target_answers_nothing():
    scores = np.ones(10)
    assert _answered_share(scores, ["000"] * 10) == 0.0


async def test_calibrated_profile_answers_tuning_questions_and_not_held_out_ones(tmp_path: Path):
    """Lexical only on the small XQuAD excerpt: the fitted rule answers Turkish questions
    whose paragraph is indexed and, held to 5% false answers on six questions, none of the
    tuning questions asked of an index rebuilt without their document."""
    articles, questions = load_squad(FIXTURES / "xquad-small.tr.json")
    async with await Engine.open(EngineConfig(data_dir=tmp_path, model=None)) as engine:
        await engine.apply(LoadResult(articles))
        profile = await calibrate.calibrate(engine, [questions])
        engine.use_profile(profile)
        rates = (await holdout(engine, articles, {"tr": questions}, split="tune"))["tr"]
        assert (await engine.stats()).articles == len(articles)  # all indexed again
    assert profile.same.coverage > 0
    assert rates["questions"] == 6 and rates["answered_in_corpus"] >= 0.5
    assert rates["answered_held_out"] == 0
