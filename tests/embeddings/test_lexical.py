from collections import Counter
from pathlib import Path

import pytest

from embeddings import lexical
from embeddings.config import EngineConfig
from embeddings.corpus import LoadResult
from embeddings.engine import Engine, question_terms
from embeddings.evaluate import load_squad
from embeddings.lexical import Bm25Index
from tests.conftest import FIXTURES, HEADLINE_EN, HEADLINE_TR, segment_file


async def test_in_memory_bm25_ranks_exactly_as_fts5(tmp_path: Path):
    """The served backend reproduces SQLite FTS5's bm25(): same order, same scores."""
    articles, questions = load_squad(FIXTURES / "xquad-small.tr.json")
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        await engine.apply(LoadResult(articles))
        index = engine.snapshot.lexical
        assert index is not None and len(index) == engine.snapshot.passages
        async with engine._reader() as conn:
            for question in [q.text for q in questions] + [
                HEADLINE_TR,
                "Varşova nüfusu",
                HEADLINE_EN,
            ]:
                own, words = question_terms(question)
                memory_query = index.query_terms(own, words)
                fts_query = await lexical.fts5_query_terms(
                    conn, own, engine.snapshot.passages, words
                )
                assert memory_query == fts_query
                memory = index.search(memory_query, 50)
                fts5 = await lexical.fts5_search(conn, fts_query, 50)
                assert [r for r, _ in memory] == [r for r, _ in fts5]
                for (_, a), (_, b) in zip(memory, fts5, strict=True):
                    assert a == pytest.approx(b, rel=1e-4)


async def test_saved_bm25_index_is_reloaded_not_rebuilt(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        saved = segment_file(engine, "lexical")
    assert saved and (tmp_path / "data" / saved).exists()

    def no_rebuild(rows):
        raise AssertionError("the saved index should have been loaded")

    monkeypatch.setattr(Bm25Index, "build", staticmethod(no_rebuild))
    async with await Engine.open(config) as engine:
        assert segment_file(engine, "lexical") == saved
        assert (await engine.update()).unchanged
        assert "Le Minh Hung" in (await engine.ask(HEADLINE_TR)).passages[0].text


async def test_fts5_backend_answers_the_same(corpus_dir: Path, tmp_path: Path):
    answers = []
    for backend in ("memory", "fts5"):
        config = EngineConfig(
            corpus_dir=corpus_dir, data_dir=tmp_path / backend, model=None, lexical_backend=backend
        )
        async with await Engine.open(config) as engine:
            await engine.update()
            assert (engine.snapshot.lexical is None) == (backend == "fts5")
            answers.append([h.passage_id for h in (await engine.ask(HEADLINE_TR, k=5)).passages])
    assert answers[0] == answers[1]


@pytest.mark.parametrize("distinct", [300, 70_000])
def test_postings_list_each_terms_passages_in_order_with_counts(distinct: int):
    """Past 65,536 distinct terms the build sorts by a wider key: both list every passage
    holding a term, in row order, with the term's count there."""
    rows = [
        (10 + i, " ".join(f"t{(i * 3 + j) % distinct} t{i % 5}" for j in range(3)))
        for i in range(25_000)
    ]
    index = Bm25Index.build(rows)
    expected: dict[str, list[tuple[int, int]]] = {}
    for rowid, text in rows:
        for term, count in Counter(text.split()).items():
            expected.setdefault(term, []).append((rowid, count))
    assert (len(index.vocabulary) > 1 << 16) == (distinct > 1 << 16)
    for term, found in expected.items():
        t = index.vocabulary[term]
        span = slice(index.indptr[t], index.indptr[t + 1])
        listed = zip(index.rowids[index.docs[span]].tolist(), index.tf[span].tolist(), strict=True)
        assert list(listed) == found
    assert index.lengths.tolist() == [6] * len(rows)


def test_empty_index_matches_nothing():
    index = Bm25Index.build([])
    assert index.search(index.query_terms(["konferans"]), 10) == []


async def test_an_fts5_run_keeps_the_saved_segments_for_a_later_memory_run(
    corpus_dir: Path, tmp_path: Path
):
    """With nothing served from segments (FTS5, no model), an update leaves the recorded
    files alone: the next in-memory run reuses them and indexes only the new passages."""
    memory = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(memory) as engine:
        await engine.update()
        saved = segment_file(engine, "lexical")
    (corpus_dir / "yeni.md").write_text("---\ntitle: Yeni\n---\nBinh Duong'da köprü açıldı.\n")
    fts5 = EngineConfig(
        corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None, lexical_backend="fts5"
    )
    async with await Engine.open(fts5) as engine:
        assert (await engine.update()).added == 1
    assert (tmp_path / "data" / saved).exists()
    async with await Engine.open(memory) as engine:
        first, new = engine.snapshot.segments
        assert first.files["lexical"].name == saved and len(new.rowids()) == 1
        assert "köprü" in (await engine.ask("Binh Duong'da ne açıldı?")).passages[0].text
